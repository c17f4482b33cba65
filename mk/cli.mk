# The cvisor command and its JSON VM configs (issue #4; DESIGN.md "VM config" and
# "The cvisor command (hosted)"). Hosted only: the AArch64 build gets its configs as a
# device tree made on the host from the same JSON files.
ifeq ($(ARCH),x86_64)
CLI_CFLAGS := -D_GNU_SOURCE -Itools/cvisor
$(eval $(call variant,cli,-O2 $(CLI_CFLAGS),x86_64-kvm))
$(eval $(call variant,cli-asan,-O1 $(CLI_CFLAGS) $(SAN_ASAN),x86_64-kvm))

# The config parser's unit test, plain and under ASan+UBSan (it parses untrusted text).
CLI_CONFIG_OBJS = $(BUILD)/$(1)/tools/cvisor/config_json.o
$(BUILD)/cli/tests/cli/test_config: $(BUILD)/cli/tests/cli/test_config.o $(call CLI_CONFIG_OBJS,cli)
	$(HOSTCC) -o $@ $^ -lcjson -lcmocka
$(BUILD)/cli-asan/tests/cli/test_config: $(BUILD)/cli-asan/tests/cli/test_config.o $(call CLI_CONFIG_OBJS,cli-asan)
	$(HOSTCC) $(SAN_ASAN) -o $@ $^ -lcjson -lcmocka
CLI_UNIT_PROGS := $(BUILD)/cli/tests/cli/test_config $(BUILD)/cli-asan/tests/cli/test_config
.SECONDARY: $(BUILD)/cli/tests/cli/test_config.o $(BUILD)/cli-asan/tests/cli/test_config.o

CHECK_DEPS += $(CLI_UNIT_PROGS)
CHECK_TESTS += $(CLI_UNIT_PROGS)
endif

ifeq ($(ARCH),x86_64)
# The command: tools/cvisor over the product library, the demo guest embedded.
# mk/kvm.mk and the top Makefile are read after this file: name their outputs directly
# (prerequisites are expanded when the rule is read).
CVISOR_BIN := $(BUILD)/cvisor
CVISOR_SRCS := tools/cvisor/main.c tools/cvisor/help.c tools/cvisor/version.c tools/cvisor/run.c \
	tools/cvisor/run_vms.c tools/cvisor/config_json.c
CVISOR_DEMO_BIN := $(BUILD)/guests/x86_64/demo.bin
CVISOR_OBJS := $(patsubst %.c,$(BUILD)/cli/%.o,$(CVISOR_SRCS)) $(BUILD)/cli/tools/cvisor/demo_image.o
CVISOR_LIBA := $(BUILD)/libcvisor.a
$(BUILD)/cli/tools/cvisor/demo_image.o: tools/cvisor/demo_image.S $(CVISOR_DEMO_BIN)
	@mkdir -p $(@D)
	$(HOSTCC) -c -Wa,-I,$(dir $(CVISOR_DEMO_BIN)) $< -o $@
$(CVISOR_BIN): $(CVISOR_OBJS) $(CVISOR_LIBA)
	$(HOSTCC) -o $@ $(CVISOR_OBJS) $(CVISOR_LIBA) -lcjson -lpthread
ALL_TARGETS += $(CVISOR_BIN)
CHECK_DEPS += $(CVISOR_BIN)
endif

ifeq ($(ARCH),x86_64)
# cvisor again with ASan+UBSan (and LeakSanitizer), over mk/kvm.mk's kvm-asan objects, for
# tests/cli/test_asan.sh. The product library's source list is only complete once every
# mk file is read, hence the second expansion of that prerequisite.
CVISOR_ASAN_BIN := $(BUILD)/cvisor-asan
CVISOR_ASAN_OBJS := $(patsubst %.c,$(BUILD)/cli-asan/%.o,$(CVISOR_SRCS)) $(BUILD)/cli/tools/cvisor/demo_image.o
.SECONDEXPANSION:
$(CVISOR_ASAN_BIN): $(CVISOR_ASAN_OBJS) $$(patsubst %.c,$(BUILD)/kvm-asan/%.o,$$(LIBCVISOR_SRCS))
	$(HOSTCC) $(SAN_ASAN) -o $@ $^ -lcjson -lpthread
CHECK_DEPS += $(CVISOR_ASAN_BIN)
CHECK_TESTS += tests/cli/test_cli.sh tests/cli/test_run.sh tests/cli/test_asan.sh
endif
