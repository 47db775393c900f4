# `sam build` (every function has `BuildMethod: makefile`; samconfig.toml builds in source) runs
# `make build-<LogicalId>` once per function. Each target copies its binary out of ONE cargo
# build of every function's binary: the first target compiles, the others find it fresh. One
# build per function instead (rust-cargolambda) recompiled and re-linked for each: 16 min.
#
# A new function: its resource in template.yaml with `Metadata: {BuildMethod: makefile}`, and
# one `LogicalId=binary` entry here (scripts/validate-template checks both).
FUNCTIONS := \
	AuthorizerFunction=authorizer \
	AuthFunction=auth \
	TenantAdminFunction=tenant-admin \
	TeamsFunction=teams \
	WebhooksFunction=webhooks \
	NotifierFunction=notifier \
	ApiKeysFunction=api-keys \
	DatasetsFunction=datasets \
	ChatsFunction=chats \
	ActivityFunction=activity \
	CogniacFunction=cogniac \
	VirtuousaiFunction=virtuousai \
	AssistersFunction=assisters \
	AsksageFunction=asksage \
	PlatformFunction=platform-function

# release (the default, for deployment): `cargo lambda build --release` cross-linked with zig
#   for Lambda's glibc, for KEYGATE_LAMBDA_ARCH (arm64 by default, or x86_64; it must match the
#   template's Architectures).
# dev (scripts/sam-local): a plain debug `cargo build` for this machine, which reuses the test
#   build; it runs only on the base image scripts/sam-local makes from this machine's libraries.
KEYGATE_LAMBDA_PROFILE ?= release
KEYGATE_LAMBDA_ARCH ?= arm64

BINARIES := $(foreach f,$(FUNCTIONS),$(word 2,$(subst =, ,$(f))))
binary_of = $(word 2,$(subst =, ,$(filter $(1)=%,$(FUNCTIONS))))

ifeq ($(KEYGATE_LAMBDA_PROFILE),release)
ifeq ($(KEYGATE_LAMBDA_ARCH),arm64)
LAMBDA_TARGET := aarch64-unknown-linux-gnu.2.26
else
LAMBDA_TARGET := x86_64-unknown-linux-gnu.2.26
endif
BUILD_ALL := cargo lambda build --release --locked --target $(LAMBDA_TARGET) $(addprefix --bin ,$(BINARIES))
binary_path = target/lambda/$(1)/bootstrap
COPY := cp
else ifeq ($(KEYGATE_LAMBDA_PROFILE),dev)
# --workspace --bins: the same feature set as the test build, so no dependency recompiles.
BUILD_ALL := cargo build --locked --workspace --bins
binary_path = target/debug/$(1)
# A hard link: debug binaries are ~200 MB each (cargo replaces rather than rewrites them).
COPY := ln -f
else
$(error KEYGATE_LAMBDA_PROFILE must be release or dev, not $(KEYGATE_LAMBDA_PROFILE))
endif

.PHONY: lambda-binaries

lambda-binaries:
	$(BUILD_ALL)

build-%: lambda-binaries
	@test -n "$(call binary_of,$*)" || { echo "Makefile: add $*=<binary> to FUNCTIONS" >&2; exit 1; }
	@test -n "$(ARTIFACTS_DIR)" || { echo "Makefile: ARTIFACTS_DIR is unset (run sam build)" >&2; exit 1; }
	mkdir -p "$(ARTIFACTS_DIR)"
	$(COPY) $(call binary_path,$(call binary_of,$*)) "$(ARTIFACTS_DIR)/bootstrap"
