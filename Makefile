# Shortcuts for people who have make; tasks.py does the work (and needs only Python 3.11+).
#   make test ARGS="-k booking -x"
PYTHON ?= python3
ARGS ?=

.PHONY: run test lint contract

run:
	$(PYTHON) tasks.py run

test:
	$(PYTHON) tasks.py test $(ARGS)

lint:
	$(PYTHON) tasks.py lint

contract:
	$(PYTHON) tasks.py contract
