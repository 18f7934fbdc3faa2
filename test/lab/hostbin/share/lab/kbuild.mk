# The lab's fake kbuild: installed as /lib/modules/<kernel>/build/Makefile by the fake kernel-headers
# package. `make -C /lib/modules/<kernel>/build M=DIR modules` compiles DIR's obj-m sources with the
# real gcc (the lab's module fixtures compile standalone, without kernel headers) and produces
# NAME.ko: the relocatable object plus an embedded modinfo trailer (vermagic=<kernel>, name=NAME),
# which the fake insmod/modprobe check. Also: clean, modules_install (to /lib/modules/<kernel>/extra),
# kernelversion (DPDK 20.11's meson runs `make -sC <build> kernelversion` before building rte_kni).
KBUILD_DIR := $(dir $(realpath $(lastword $(MAKEFILE_LIST))))
KERNELRELEASE := $(shell cat $(KBUILD_DIR)kernel.release)
export KERNELRELEASE
ifeq ($(M),)
  M := $(SUBDIRS)
endif
src := $(M)
obj := $(M)
ifneq ($(M),)
  ifneq ($(wildcard $(M)/Kbuild),)
    include $(M)/Kbuild
  else
    include $(M)/Makefile
  endif
endif
.DEFAULT_GOAL := modules
empty :=
space := $(empty) $(empty)
comma := ,
MODS := $(patsubst %.o,%,$(obj-m))
CFLAGS_ALL := -O2 -fno-common -w $(ccflags-y) $(EXTRA_CFLAGS)
objs_of = $(strip $(or $($(1)-objs),$($(1)-y),$(1).o))
SPECS := $(foreach m,$(MODS),$(m):$(subst $(space),$(comma),$(call objs_of,$(m))))

.PHONY: modules modules_install clean kernelversion
modules:
	@test -n "$(M)" || { echo "fake kbuild: M= is required" >&2; exit 2; }
	@test -n "$(MODS)" || { echo "fake kbuild: no obj-m in $(M)" >&2; exit 2; }
	@set -e; cd "$(M)"; : > modules.order; \
	for spec in $(SPECS); do \
	  m=$${spec%%:*}; objs=$$(echo "$${spec#*:}" | tr , ' '); \
	  for o in $$objs; do echo "  CC [M]  $(M)/$$o"; gcc $(CFLAGS_ALL) -c -o "$$o" "$${o%.o}.c"; done; \
	  echo "  LD [M]  $(M)/$$m.ko"; ld -r -o "$$m.ko" $$objs; \
	  printf '\000vermagic=%s SMP mod_unload modversions \000name=%s\000license=GPL\000' "$(KERNELRELEASE)" "$$m" >> "$$m.ko"; \
	  echo "$(M)/$$m.ko" >> modules.order; \
	done; : > Module.symvers

modules_install:
	@set -e; mkdir -p "$(INSTALL_MOD_PATH)/lib/modules/$(KERNELRELEASE)/$(or $(INSTALL_MOD_DIR),extra)"; \
	for m in $(MODS); do \
	  echo "  INSTALL $(INSTALL_MOD_PATH)/lib/modules/$(KERNELRELEASE)/$(or $(INSTALL_MOD_DIR),extra)/$$m.ko"; \
	  cp "$(M)/$$m.ko" "$(INSTALL_MOD_PATH)/lib/modules/$(KERNELRELEASE)/$(or $(INSTALL_MOD_DIR),extra)/"; \
	done

clean:
	@cd "$(M)" && rm -f *.o *.ko *.mod *.mod.c *.mod.o modules.order Module.symvers .*.cmd

kernelversion:
	@echo $(KERNELRELEASE)
