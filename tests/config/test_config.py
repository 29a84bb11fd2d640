"""Hydra config: typed composition, named sweeps, and one-line refusals before any work."""
from __future__ import annotations

import itertools

import pytest
from cli_runner import harness
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from harness.config import schema
from harness.config.plan import config_dir, expand, plan
from harness.config.validate import ConfigError


def test_compose_gives_typed_defaults():
    schema.register()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("bench", overrides=["model=synthetic-tiny", "backend.n_batch=256"])
    assert OmegaConf.get_type(cfg.backend) is schema.BackendConfig
    assert cfg.backend.n_batch == 256 and cfg.model.arch.n_embd == 64 and cfg.mode == "raw"


def test_default_sweep_expands_to_quant_mmap_ctx_batch_points():
    points = expand(["+sweep=default"], multirun=True)
    assert len(points) == 4 * 2 * 2 * 2
    cfgs = plan(["+sweep=default"], multirun=True)
    assert {c.model.name for c in cfgs} == {"synthetic-small"}
    assert all(c.backend.n_ubatch == c.backend.n_batch for c in cfgs)
    # load parameters vary slowest, so the model is reloaded only 8 times in 32 points
    keys = [(c.model.quant, c.backend.use_mmap) for c in cfgs]
    assert sum(a != b for a, b in itertools.pairwise(keys)) == 7


def test_command_line_sweep_is_the_cartesian_product():
    cfgs = plan(["model=synthetic-tiny", "model.quant=F16,Q8_0", "backend.n_batch=128,512", "backend.n_ubatch=64"], multirun=True)
    assert sorted((c.model.quant, c.backend.n_batch) for c in cfgs) == [
        ("F16", 128), ("F16", 512), ("Q8_0", 128), ("Q8_0", 512)]


@pytest.mark.parametrize("override, words", [
    ("model.quant=Q9_X", ["model.quant", "Q9_X", "Q4_K_M"]),
    ("backend.n_ctx=-5", ["backend.n_ctx", "-5", ">= 1"]),
    ("backend.n_ubatch=1024", ["backend.n_ubatch=1024", "n_batch=512", "<="]),
    ("backend.flash_attn=maybe", ["backend.flash_attn", "maybe", "auto"]),
    ("backend.n_ctx=abc", ["backend.n_ctx", "abc"]),
    ("backend.nonsense=1", ["nonsense"]),
])
def test_invalid_value_is_one_clear_line_and_no_work(tmp_path, override, words):
    args = ["bench", "-m", "model=synthetic-tiny", "backend.n_batch=512", override,
            f"hydra.sweep.dir={tmp_path}/run", f"hydra.run.dir={tmp_path}/run"]
    r = harness(*args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and lines[0].startswith("harness: error: "), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    for w in words:
        assert w in lines[0]
    assert not (tmp_path / "run").exists()


def test_invalid_value_anywhere_in_a_sweep_stops_it_before_any_point(tmp_path):
    r = harness("bench", "-m", "model=synthetic-tiny", "model.quant=F16,BOGUS", f"hydra.sweep.dir={tmp_path}/run")
    assert r.returncode == 2 and "BOGUS" in r.stderr
    assert not (tmp_path / "run").exists()


def test_missing_real_model_names_the_path_and_the_source(tmp_path, monkeypatch):
    monkeypatch.setenv("GPT_OSS_20B_GGUF", str(tmp_path / "nope.gguf"))
    with pytest.raises(ConfigError) as e:
        plan(["model=gpt-oss-20b"], multirun=False)
    msg = str(e.value)
    assert str(tmp_path / "nope.gguf") in msg and "GPT_OSS_20B_GGUF" in msg and "Hugging Face" in msg
    r = harness("bench", "model=gpt-oss-20b", "model.path=/nonexistent/gpt-oss-20b.gguf")
    assert r.returncode == 2 and "/nonexistent/gpt-oss-20b.gguf" in r.stderr


def test_real_model_preset_takes_the_users_file(tmp_path, tiny_model, monkeypatch):
    monkeypatch.setenv("GPT_OSS_20B_GGUF", str(tiny_model))
    cfg = plan(["model=gpt-oss-20b"], multirun=False)[0]
    from harness.models import cache
    assert cache.prepare(cfg.model) == tiny_model


def test_an_override_hydra_cannot_read_is_named_with_the_quoting_it_needs():
    with pytest.raises(ConfigError) as e:
        plan(["model=synthetic-tiny", "backend.tensor_buft_overrides=exps=CPU"], multirun=False)
    msg = str(e.value)
    assert "\n" not in msg and "'backend.tensor_buft_overrides=exps=CPU'" in msg
    assert """'backend.tensor_buft_overrides="exps=CPU"'""" in msg
