# SPDX-License-Identifier: Apache-2.0
# Test and benchmark entry points.
test: deps
	$(MAKE) check-host
	$(MAKE) check-image
check-image: all
	$(PYTHON) -m pytest -q tests
