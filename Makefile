# depix — `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU build of torch by default (this pin matches the wheel shipped on the project's CPU machines).
# With an NVIDIA GPU:  make install TORCH_SPEC="torch==2.13.0" TORCH_INDEX=https://download.pytorch.org/whl/cu128
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
RUN ?= runs/quickstart
BENCHMARK ?= text
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng fonts-dejavu-core fonts-liberation2 fonts-noto-mono \
	fonts-freefont-ttf fonts-firacode fonts-hack fonts-inconsolata fonts-roboto fonts-open-sans \
	fonts-cantarell fonts-droid-fallback

.PHONY: bundle help install system-deps train test test-fast lint format bench eval clean ship demo

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: system-deps $(VENV)/.installed  ## venv + CPU torch + depix (editable) + OCR and fonts

# torch is (re)installed when TORCH_SPEC or TORCH_INDEX change: its stamp file is named by a hash
# of both, so `make install TORCH_INDEX=...cu128` after a CPU install replaces the CPU build
# (pip alone would keep it: torch==2.13.0 is satisfied by 2.13.0+cpu).
TORCH_KEY := $(shell printf '%s|%s' '$(TORCH_SPEC)' '$(TORCH_INDEX)' | sha1sum | cut -c1-12)
TORCH_STAMP := $(VENV)/.torch-$(TORCH_KEY)

$(TORCH_STAMP):
	test -x $(PY) || python3 -m venv $(VENV)
	if [ -n "$(TORCH_INDEX)" ] || ls $(VENV)/.torch-* >/dev/null 2>&1; then \
		rm -f $(VENV)/.torch-*; $(PY) -m pip uninstall --quiet -y torch || true; fi
	$(PIP) "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	touch $@

$(VENV)/.installed: pyproject.toml Makefile $(TORCH_STAMP)
	$(PIP) -e ".[dev,eval]"
	touch $@

system-deps:  ## Tesseract (OCR metric) and screenshot fonts from Debian, when apt is available
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
		if [ -n "$$missing" ]; then \
			echo "apt-get install $$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		fi; \
	else \
		echo "note: install tesseract-ocr and some TrueType fonts with your package manager" \
		     "(OCR metrics are skipped without Tesseract; fonts widen the synthetic data)"; \
	fi

# resume=true: running `make train` again continues runs/quickstart/ (e.g. after its time cap)
# up to its 500 steps instead of being refused as a re-run of an existing run name.
train: install  ## the quick-start run: 500 steps on the CPU (~3.5 min idle), writes runs/quickstart/
	$(VENV)/bin/depix-train experiment=quickstart resume=true

# The packaged default model of depix-restore, exported (config + float16 weights) from a run.
SHIP_CKPT ?= runs/shipped_ft/checkpoints/best.ckpt
SHIP_OUT := depix/weights/depix-small.pt
ship:  ## export $(SHIP_CKPT) as depix-restore's default model depix/weights/depix-small.pt
	@test -e $(SHIP_CKPT) || { echo "no $(SHIP_CKPT): train it first, or make ship SHIP_CKPT=runs/<name>"; exit 1; }
	$(PY) -c "from depix.models.loading import export_model; \
		p = export_model('$(SHIP_CKPT)', '$(SHIP_OUT)', half=True); print(p, p.stat().st_size // 1024, 'kB')"

demo: install  ## the README's before/after pictures, made by depix-restore with the shipped model
	@mkdir -p runs
	@for name in restore_demo restore_scaled; do \
		$(VENV)/bin/depix-restore experiments/media/$${name}_input.png -o runs/$$name.png --read || exit 1; \
		$(PY) -c "from PIL import Image; a, b = Image.open('experiments/media/$${name}_input.png'), \
			Image.open('runs/$$name.png'); out = Image.new('RGB', (a.width, 2 * a.height + 6), (128, 128, 128)); \
			out.paste(a, (0, 0)); out.paste(b, (0, a.height + 6)); out.save('experiments/media/$$name.png')"; \
	done

eval: install  ## score a run next to its baselines: make eval RUN=runs/quickstart [BENCHMARK=text|images|all]
	$(VENV)/bin/depix-eval ckpt_path=$(RUN) benchmark=$(BENCHMARK)

bench: install  ## speed table: training/inference throughput, FLOPs, memory (on the GPU when present)
	$(PY) -m depix.bench

test: install  ## the whole test suite (CPU, no network)
	$(PY) -m pytest -q

test-fast: install  ## tests without the slow (training) ones
	$(PY) -m pytest -q -m "not slow"

lint:  ## ruff lint + format check
	$(VENV)/bin/ruff check depix tests
	$(VENV)/bin/ruff format --check depix tests

format:  ## ruff fix + format
	$(VENV)/bin/ruff check --fix depix tests
	$(VENV)/bin/ruff format depix tests

clean:  ## remove caches (keeps runs/ and .venv)
	rm -rf .pytest_cache .ruff_cache
	find . -name __pycache__ -prune -exec rm -rf {} +

bundle:  ## one folder to train on an offline GPU host: make bundle BUNDLE=/tmp/depix-bundle [BUNDLE_PY=3.10]
	$(PY) -m depix.bundle $(or $(BUNDLE),bundle) $(if $(BUNDLE_PY),--python-version $(BUNDLE_PY))
