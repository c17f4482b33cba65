# The VM (axvm) and VMM (axvisor) layers live in core/ (picked up by CORE_SRCS); the
# devices they come with are added here (issue #4). The 16550A UART is x86's console.
ifeq ($(ARCH),x86_64)
PRODUCT_SRCS += devices/uart8250.c
UNIT_EXTRA_SRCS += devices/uart8250.c
endif
