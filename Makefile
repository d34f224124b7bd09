# Khulasa: `make serve` and `make test` are all a new machine needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help models
help:
	@echo "make serve   prepare runtime and models if missing, build, serve on 127.0.0.1:50051"
	@echo "make test    prepare what is missing, build, run every test"
	@echo "make models  fetch ONNX Runtime and build the default models (idempotent)"

models:
	@bash models/setup.sh
