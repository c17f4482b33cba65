# cvisor.test=smp: what tests/linux (and later the hypervisor's Linux tests) assert.
# Every line starts with "cvisor-test: " so the host can pick them out of the console.
# Which device tree the kernel got (cvisor's says "cvisor guest").
echo "cvisor-test: model $(tr -d '\0' </proc/device-tree/model 2>/dev/null)"
echo "cvisor-test: cpus $(grep -c ^processor /proc/cpuinfo)"
echo "cvisor-test: online $(cat /sys/devices/system/cpu/online)"
# The host timestamps these two lines; the guest's own clock travels on them. The
# uptime is read with the shell's builtin `read` right before the builtin `echo`: a
# command substitution would fork and exec first, a delay that differs between the two
# lines on a loaded emulated guest and made the host and guest intervals disagree.
read -r up _ </proc/uptime
echo "cvisor-test: sleep-start uptime=$up"
sleep 2
read -r up _ </proc/uptime
echo "cvisor-test: sleep-end uptime=$up"
# The same work pinned to each online CPU, all at once; field 39 of /proc/self/stat is
# the CPU the reading process runs on.
n=$(grep -c ^processor /proc/cpuinfo)
i=0
while [ "$i" -lt "$n" ]; do
	taskset -c "$i" sh -c 'echo "sum=$(seq 1 50000 | md5sum | cut -d " " -f 1) ran-on=$(cut -d " " -f 39 /proc/self/stat)"' \
		>"/tmp/work.$i" 2>&1 &
	i=$((i + 1))
done
wait
i=0
while [ "$i" -lt "$n" ]; do
	echo "cvisor-test: work cpu=$i $(cat "/tmp/work.$i")"
	i=$((i + 1))
done
echo "cvisor-test: done"
