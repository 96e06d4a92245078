# clonebot — top-level driver. `make` builds, `make deps` installs what is missing (Debian 12,
# as root, idempotent), `make demo` traces a real command, `make test` runs every test.
BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
ASAN_BUILD ?= build-asan

# Debian packages the build and the tests need. Each is explained in docs/dependencies.md.
DEB_PKGS := build-essential cmake ninja-build pkg-config python3 \
            libabsl-dev libseccomp-dev libcli11-dev libzstd-dev nlohmann-json3-dev \
            libssl-dev libxxhash-dev libyaml-cpp-dev libgtest-dev libgmock-dev strace gdb skopeo \
            bubblewrap firejail chromium chromium-headless-shell fonts-dejavu-core xvfb xauth

.PHONY: all build deps demo test test-asan bench clean
all: build

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing:" $$missing; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: need root to apt-get install:" $$missing >&2; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "make deps: all packages present"; fi

demo: deps build
	@echo '== clonebot check'; $(BUILD)/clonebot check || true
	@echo '== clonebot trace -o /tmp/clonebot-demo.cbt -- ls -l /'
	$(BUILD)/clonebot trace -o /tmp/clonebot-demo.cbt -- ls -l /
	@echo '== clonebot show (first 25 lines)'; $(BUILD)/clonebot show /tmp/clonebot-demo.cbt | head -25
	@echo '== clonebot show --format summary'; $(BUILD)/clonebot show --format summary /tmp/clonebot-demo.cbt
	@echo "== clonebot run --memory-max 256M --pids-max 64 --report text -- sh -c 'id; hostname; ps -e; ls /; touch /usr/x || echo ...'"
	$(BUILD)/clonebot run --memory-max 256M --pids-max 64 --report text -- sh -c 'id; hostname; ps -e; ls /; touch /usr/x || echo "(as it should be: /usr is read-only in the sandbox)"'
	@echo '== clonebot snapshot: a python3 holding 64 MiB, full then incremental, diff, inspect'
	@rm -rf /tmp/clonebot-demo-snap; mkdir -p /tmp/clonebot-demo-snap; mkfifo /tmp/clonebot-demo-snap/in; \
	python3 -c 'import sys,time; b=bytearray(64<<20); b[::4096]=b"x"*(len(b)//4096); print("ready",flush=True); sys.stdin.readline(); b[::65536]=b"y"*(len(b)//65536); print("ready",flush=True); sys.stdin.readline()' \
	  < /tmp/clonebot-demo-snap/in > /tmp/clonebot-demo-snap/out & pid=$$!; \
	exec 3>/tmp/clonebot-demo-snap/in; \
	until grep -q ready /tmp/clonebot-demo-snap/out 2>/dev/null; do sleep 0.05; done; \
	$(BUILD)/clonebot snapshot $$pid -o /tmp/clonebot-demo-snap/base && \
	echo >&3 && until [ $$(grep -c ready /tmp/clonebot-demo-snap/out) = 2 ]; do sleep 0.05; done && \
	$(BUILD)/clonebot snapshot $$pid -o /tmp/clonebot-demo-snap/t1 --parent /tmp/clonebot-demo-snap/base && \
	$(BUILD)/clonebot diff /tmp/clonebot-demo-snap/base /tmp/clonebot-demo-snap/t1 | head -8 && \
	$(BUILD)/clonebot inspect /tmp/clonebot-demo-snap/t1 | head -12; rc=$$?; \
	exec 3>&-; wait $$pid; exit $$rc
	@echo '== clonebot web snapshot: a page in headless Chromium, its buttons extracted'
	$(BUILD)/clonebot web snapshot 'data:text/html;charset=utf-8,<title>demo</title><h1>clonebot</h1><button id=a>Grüße</button><button>Two</button>' \
	  -o /tmp/clonebot-demo-web --extract button --viewport 800x600
	@python3 -c 'import json; print([(i["selector"], i["index"], i["text"]) for i in json.load(open("/tmp/clonebot-demo-web/extract.json"))])'

# Every test runs twice: against the ASan+UBSan build (memory errors in the tracer and the
# decoders on real tracee data) and against the release binary that users run. The kernel-test
# programs themselves are built without sanitizers in both (a sanitizer runtime makes syscalls
# of its own).
test: deps build
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCLONEBOT_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	bench/run_all.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
