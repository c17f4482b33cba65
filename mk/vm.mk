# The VM (axvm) and VMM (axvisor) layers live in core/ (picked up by CORE_SRCS); the
# devices they come with are added here (issue #4).
