# hpe_ros without a ROS install: everything runs from a venv (see README).
VENV ?= .venv
PYTHON := $(VENV)/bin/python
READY := $(VENV)/.hpe_ros_ready
SOURCES := requirements.txt setup.py scripts/setup_venv.sh scripts/build_interfaces.sh hpe_ros/io/_evt3.c \
           $(wildcard msg/msg/*.msg) msg/CMakeLists.txt $(wildcard hpe_ros/io/interfaces/*/*.msg)

.PHONY: venv demo test lint bench clean

venv: $(READY)

$(READY): $(SOURCES)
	bash scripts/setup_venv.sh $(VENV)
	touch $(READY)

demo: venv
	$(VENV)/bin/hpe-ros demo

test: venv
	$(PYTHON) -m pytest test

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: venv
	for b in benchmarks/bench_*.py; do $(PYTHON) $$b || exit 1; done

clean:
	rm -rf $(VENV) demo_output build *.egg-info
