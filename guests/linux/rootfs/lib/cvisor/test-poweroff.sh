# cvisor.test=poweroff: power off right after the marker (bench/linux: boot-to-init time).
echo "cvisor-test: poweroff"
