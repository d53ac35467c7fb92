"""Tests for melflow.data: audio I/O, manifests and the synthetic keyword corpus."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from melflow.core import MelflowError
from melflow.data import espeak_voices, festival_accents, kokoro_voices, kws, kws_render, pronunciations, unknown_vowels
from melflow.data.audio import fit_length, load_audio, write_wav
from melflow.data.manifest import ManifestRow, read_manifest, write_manifest

needs_tts = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("espeak-ng", "flite", "sox")),
    reason="espeak-ng, flite and sox are needed for the keyword corpus",
)


# ---- audio ---------------------------------------------------------------------------
def test_load_audio_resamples_and_mixes_down(tmp_path):
    sr = 44100
    t = np.arange(sr // 2) / sr
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    right = 0.1 * np.sin(2 * np.pi * 440 * t)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), sr, subtype="PCM_16")
    x = load_audio(path)
    assert x.dtype == np.int16 and x.ndim == 1
    assert abs(len(x) - 8000) <= 1
    # mix-down: amplitude (0.5 + 0.1) / 2 = 0.3 of full scale
    mid = x[1000:7000].astype(np.float64) / 32768
    assert abs(np.max(np.abs(mid)) - 0.3) < 0.01
    # still a 440 Hz tone after resampling
    spec = np.abs(np.fft.rfft(mid))
    assert abs(np.argmax(spec) * 16000 / len(mid) - 440) < 5


def test_load_audio_float_clips_and_int16_passthrough(tmp_path):
    p = tmp_path / "f.wav"
    sf.write(p, np.array([0.0, 0.5, 2.0, -3.0]), 16000, subtype="FLOAT")
    assert load_audio(p).tolist() == [0, 16384, 32767, -32768]
    q = tmp_path / "i.wav"
    pcm = np.array([1, -2, 300, -32768, 32767], dtype=np.int16)
    write_wav(q, pcm, 16000)
    assert np.array_equal(load_audio(q), pcm)


def test_load_audio_errors_name_the_file(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0), 16000, subtype="PCM_16")
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio at all")
    zero_bytes = tmp_path / "zero.wav"
    zero_bytes.write_bytes(b"")
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.0, np.nan, 0.1]), 16000, subtype="FLOAT")
    for p in (empty, garbage, zero_bytes, nan, tmp_path / "missing.wav"):
        with pytest.raises(MelflowError, match=p.name):
            load_audio(p)


def test_fit_length():
    x = np.arange(1, 6, dtype=np.int16)
    assert fit_length(x, 9).tolist() == [0, 0, 1, 2, 3, 4, 5, 0, 0]
    assert fit_length(x, 3).tolist() == [2, 3, 4]
    assert fit_length(x, 5).tolist() == x.tolist()


# ---- manifests -----------------------------------------------------------------------
def test_manifest_roundtrip_relative_paths(tmp_path):
    (tmp_path / "a").mkdir()
    wav = tmp_path / "a" / "x.wav"
    write_wav(wav, np.zeros(10, np.int16), 16000)
    rows = [ManifestRow(path=wav, label="yes", speaker="s1", split="train"),
            ManifestRow(path=wav, label="", onset=0.25, offset=0.5)]
    write_manifest(tmp_path / "m.csv", rows)
    text = (tmp_path / "m.csv").read_text()
    assert text.splitlines()[0] == "path,label,speaker,split,onset,offset"
    assert "a/x.wav" in text and str(tmp_path) not in text
    back = read_manifest(tmp_path / "m.csv")
    assert back[0].path == wav and back[0].label == "yes" and back[0].speaker == "s1"
    assert back[1].onset == 0.25 and back[1].offset == 0.5 and back[1].speaker is None


def test_manifest_absolute_paths_and_minimal_columns(tmp_path):
    wav = tmp_path / "w.wav"
    write_wav(wav, np.zeros(10, np.int16), 16000)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "m.csv").write_text(f"path,label\n{wav},no\n")
    rows = read_manifest(sub / "m.csv")
    assert rows == [ManifestRow(path=wav, label="no")]


def test_manifest_missing_column_names_file(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("file,label\nx.wav,yes\n")
    with pytest.raises(MelflowError, match=r"bad\.csv.*path"):
        read_manifest(p)


def test_manifest_lists_missing_files(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("path,label\n" + "".join(f"gone{i:02d}.wav,yes\n" for i in range(13)))
    with pytest.raises(MelflowError) as err:
        read_manifest(p)
    msg = str(err.value)
    assert "m.csv" in msg and "13 audio file" in msg
    assert "gone00.wav" in msg and "gone09.wav" in msg and "gone12.wav" not in msg
    assert "3 more" in msg


# ---- keyword corpus ------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    if any(shutil.which(t) is None for t in ("espeak-ng", "flite", "sox")):
        pytest.skip("espeak-ng, flite and sox are needed for the keyword corpus")
    out = tmp_path_factory.mktemp("kws")
    summary = kws.generate_kws_corpus(out, size="tiny", seed=3, jobs=2, progress=False)
    return out, summary


def test_labels_contract():
    assert kws.LABELS[:10] == ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
    assert kws.LABELS[10:] == ["_unknown_", "_silence_"]
    assert kws.CLIP_SAMPLES == 16000
    assert not set(kws.UNKNOWN_WORDS) & set(kws.KEYWORDS)


@needs_tts
def test_tiny_corpus_manifests_and_wavs(tiny_corpus):
    out, summary = tiny_corpus
    assert json.loads((out / "corpus.json").read_text())["counts"] == summary["counts"]
    for split in kws.SPLITS:
        rows = read_manifest(out / f"{split}.csv")
        header = (out / f"{split}.csv").read_text().splitlines()[0]
        assert header == "path,label,speaker,split"
        labels = {r.label for r in rows}
        assert labels == set(kws.LABELS)
        counts = {lab: sum(r.label == lab for r in rows) for lab in kws.LABELS}
        assert counts == summary["counts"][split]
        assert all(8 <= counts[k] <= 15 for k in kws.LABELS)
        assert all(r.split == split for r in rows)
        for r in rows:
            info = sf.info(str(r.path))
            assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 16000, "PCM_16")
            assert r.path.is_relative_to(out)


@needs_tts
def test_speaker_disjoint_splits(tiny_corpus):
    out, summary = tiny_corpus
    seen = {}
    for split in kws.SPLITS:
        for r in read_manifest(out / f"{split}.csv"):
            if r.label == "_silence_":
                assert r.speaker is None
                continue
            assert r.speaker, r
            assert seen.setdefault(r.speaker, split) == split, f"{r.speaker} in {seen[r.speaker]} and {split}"
    # the full speaker pools too, for any size, and the test split's held-out voices
    pools = kws.split_speakers()
    assert not set(pools["train"]) & set(pools["val"])
    assert not set(pools["train"]) & set(pools["test"])
    assert not set(pools["val"]) & set(pools["test"])
    train_voices = {s.split(":")[1].split("#")[0] for s in pools["train"] if s.startswith("flite:")}
    test_voices = {s.split(":")[1].split("#")[0] for s in pools["test"] if s.startswith("flite:")}
    assert not train_voices & test_voices
    train_accents = {s.split(":")[1].split("+")[0] for s in pools["train"] if s.startswith("espeak:")}
    test_accents = {s.split(":")[1].split("+")[0] for s in pools["test"] if s.startswith("espeak:")}
    assert not train_accents & test_accents
    for split in kws.SPLITS:
        assert set(summary["speakers"][split]) <= set(pools[split])


@needs_tts
def test_speech_louder_around_word_than_at_edges(tiny_corpus):
    out, _ = tiny_corpus
    contrast = {"speech": [], "silence": []}
    for r in read_manifest(out / "train.csv"):
        x = sf.read(str(r.path), dtype="int16")[0].astype(np.float64)
        e = np.sort(10 * np.log10(np.mean(x.reshape(100, 160) ** 2, axis=1) + 1e-3))
        contrast["silence" if r.label == "_silence_" else "speech"].append(e[-5:].mean() - e[:20].mean())
    assert np.median(contrast["speech"]) > 15
    assert np.median(contrast["speech"]) > np.median(contrast["silence"]) + 10


@needs_tts
def test_determinism(tiny_corpus, tmp_path):
    out, _ = tiny_corpus
    specs = kws.plan_kws_corpus("tiny", seed=3)
    assert specs == kws.plan_kws_corpus("tiny", seed=3)
    assert specs != kws.plan_kws_corpus("tiny", seed=4)
    # re-render a few clips (a keyword from each engine, an unknown word, a silence clip)
    picks = [next(s for s in specs if s.speaker and s.speaker.startswith("espeak:")),
             next(s for s in specs if s.speaker and s.speaker.startswith("flite:")),
             next(s for s in specs if s.label == "_unknown_" and s.split == "test"),
             next(s for s in specs if s.label == "_silence_")]
    kws.render_specs(picks, tmp_path, jobs=1, progress=False)
    for s in picks:
        assert (tmp_path / s.relpath).read_bytes() == (out / s.relpath).read_bytes(), s.relpath
    other = kws.render_clip(kws.plan_kws_corpus("tiny", seed=4)[0])
    assert not np.array_equal(other, kws.render_clip(specs[0]))


@needs_tts
def test_rerender_keeps_clips_made_the_same_way_and_redoes_the_rest(tmp_path):
    specs = kws.plan_kws_corpus("tiny", seed=3)
    picks = [next(s for s in specs if s.speaker and s.speaker.startswith("espeak:")),
             next(s for s in specs if s.label == "_silence_")]
    assert kws.render_specs(picks, tmp_path, jobs=1, progress=False) == 2
    first = {s.relpath: (tmp_path / s.relpath).read_bytes() for s in picks}
    assert kws.render_specs(picks, tmp_path, jobs=1, progress=False) == 0  # an interrupted run's done clips
    # the same file name from another plan (another corpus seed) is not the same clip
    moved = dataclasses.replace(picks[0], seed=(4, *picks[0].seed[1:]))
    assert kws.render_specs([moved, picks[1]], tmp_path, jobs=1, progress=False) == 1
    assert (tmp_path / moved.relpath).read_bytes() != first[moved.relpath]
    assert kws.render_specs(picks, tmp_path, jobs=1, progress=False) == 1
    # a clip cut short (a copy interrupted outside melflow) has no readable key: rendered again
    clip = tmp_path / picks[1].relpath
    clip.write_bytes(clip.read_bytes()[:30])
    assert kws.render_specs(picks, tmp_path, jobs=1, progress=False) == 1
    assert {s.relpath: (tmp_path / s.relpath).read_bytes() for s in picks} == first
    assert not list(tmp_path.rglob("*.part"))


def test_a_hard_linked_copy_of_a_corpus_keeps_its_own_files(tmp_path):
    """`cp -al` derives one corpus folder from another without copying its clips: writing the
    copy's manifest, corpus.json and clips must replace its links, not rewrite the files both
    folders share (melflow.core.replacing); a writer that fails leaves the old file whole."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    write_wav(a / "x.wav", np.arange(100, dtype=np.int16), 16000, comment="first")
    write_manifest(a / "train.csv", [ManifestRow(a / "x.wav", "yes")])
    (a / "corpus.json").write_text("{}\n")
    shutil.copytree(a, b, copy_function=os.link)
    assert (b / "train.csv").stat().st_nlink == 2
    before = {p.name: p.read_bytes() for p in a.iterdir()}
    write_wav(b / "x.wav", np.zeros(100, np.int16), 16000, comment="second")
    write_manifest(b / "train.csv", [ManifestRow(b / "x.wav", "no")])
    kws.generate_kws_corpus(b, size="tiny", seed=3, splits=("val",), progress=False, jobs=1)
    assert {p.name: p.read_bytes() for p in a.iterdir()} == before
    assert read_manifest(b / "train.csv")[0].label == "no" and json.loads((b / "corpus.json").read_text())["size"] == "tiny"

    class Interrupted:  # fails half-way through the writing, inside the open file
        def __str__(self):
            raise RuntimeError("interrupted")
    with pytest.raises(RuntimeError):
        write_manifest(b / "train.csv", [ManifestRow(b / "x.wav", "up"), ManifestRow(b / "x.wav", Interrupted())])
    assert read_manifest(b / "train.csv")[0].label == "no" and not list(b.glob("*.part"))


def test_random_voices_join_train_only_and_leave_val_and_test_alone():
    plain, drawn = kws.plan_kws_corpus("tiny", seed=3), kws.plan_kws_corpus("tiny", seed=3, random_voices=5)
    assert [s for s in plain if s.split != "train"] == [s for s in drawn if s.split != "train"]
    pools = kws.split_speakers(5)
    drawn_speakers = {s for s in pools["train"] if "+random" in s}
    accents = {s.split(":")[1].split("+")[0] for s in pools["train"] if s.startswith("espeak:")}
    assert len(drawn_speakers) == 5 * len(accents)
    assert not any("+random" in s for split in ("val", "test") for s in pools[split])
    assert any(s.speaker in drawn_speakers for s in drawn if s.split == "train")
    for bad in (-1, espeak_voices.MAX_RANDOM_VARIANTS + 1):
        with pytest.raises(MelflowError, match="--random-voices"):
            kws.split_speakers(bad)


@needs_tts
def test_drawn_voices_speak_every_train_accent_and_differ_from_each_other(tmp_path):
    names = espeak_voices.random_variant_names(espeak_voices.MAX_RANDOM_VARIANTS)
    assert espeak_voices.random_variant_text(names[7]) == espeak_voices.random_variant_text(names[7])
    assert len({espeak_voices.random_variant_text(n) for n in names}) == len(names)
    path = [espeak_voices.espeak_path_for(n) for n in names][-1]  # all of them in one folder
    assert espeak_voices.espeak_path_for("m3") is None  # shipped variants need no private folder
    # espeak-ng lists at most 349 voice files: with every drawn variant present, each
    # language must still load (the private folder holds no shipped variants for this)
    accents = sorted({s.split(":")[1].split("+")[0] for s in kws.split_speakers()["train"] if s.startswith("espeak:")})
    for accent, name in zip(accents, names[-len(accents):]):
        wav = tmp_path / f"{accent}.wav"
        res = subprocess.run(["espeak-ng", f"--path={path}", "-v", f"{accent}+{name}", "-w", str(wav), "stop"],
                             capture_output=True, text=True)
        assert res.returncode == 0, (accent, name, res.stderr)
        x = sf.read(str(wav))[0]
        assert np.sqrt(np.mean(x ** 2)) > 0.01, (accent, name)
    spec = next(s for s in kws.plan_kws_corpus("tiny", seed=3, random_voices=5) if s.speaker and "+random" in s.speaker)
    assert np.abs(kws.render_clip(spec).astype(np.float64)).max() > 100


def test_accented_festival_voices_are_train_only_and_say_keywords_in_their_own_spelling():
    plain, accented = kws.plan_kws_corpus("tiny", seed=3), kws.plan_kws_corpus("tiny", seed=3, accented_voices=True)
    assert [s for s in plain if s.split != "train"] == [s for s in accented if s.split != "train"]
    assert not any(s.speaker and s.speaker.split(":")[1].split("#")[0] in festival_accents.ACCENTED_VOICES for s in plain)
    added = set(accented) - set(plain)  # the flag only adds clips: the plain corpus's stay as they are
    assert set(plain) < set(accented) and {s.split for s in added} == {"train"}
    assert all(s.speaker.split(":")[1].split("#")[0] in festival_accents.ACCENTED_VOICES for s in added)
    pools = kws.split_speakers(accented_voices=True)
    accented = {s for s in pools["train"] if s.split(":")[1].split("#")[0] in festival_accents.ACCENTED_VOICES}
    assert {s.split(":")[1].split("#")[0] for s in accented} == set(festival_accents.ACCENTED_VOICES)
    assert not any(s.split(":")[1].split("#")[0] in festival_accents.ACCENTED_VOICES
                   for split in ("val", "test") for s in pools[split])
    assert festival_accents.festival_text("msu_ru_nsh_clunits", "right") == "райт"
    assert festival_accents.festival_text("czech_ph", "right") == "rajt"
    assert festival_accents.festival_text("czech_ph", "marvin") == "marvin"  # unknown words: English spelling
    assert festival_accents.festival_text("kal_diphone", "right") == "right"  # English voices: as written
    for lang, table in festival_accents.RESPELLINGS.items():
        assert sorted(table) == sorted(kws.KEYWORDS), lang


def test_extra_unknown_adds_train_clips_of_other_words_by_the_usual_speakers():
    plain = kws.plan_kws_corpus("small", seed=3)
    more = kws.plan_kws_corpus("small", seed=3, extra_unknown=0.5, vowel_variants=0.2)
    plain_set = set(plain)
    added = [s for s in more if s not in plain_set and s.phonemes is None]
    assert plain_set < set(more) and {(s.split, s.label) for s in added} == {("train", "_unknown_")}
    n_unknown = sum(s.split == "train" and s.label == "_unknown_" for s in plain)
    assert len(added) == round(0.5 * n_unknown)
    assert {s.word for s in added} == set(kws.UNKNOWN_WORDS)
    speakers = kws.split_speakers()["train"]
    assert {s.speaker for s in added} <= set(speakers)
    flite_or_festival = sum(not s.speaker.startswith("espeak:") for s in added) / len(added)
    assert 0.35 < flite_or_festival < 0.55  # the plain class's mix of engines (_FLITE_SHARE)
    assert len({s.relpath for s in more}) == len(more) and len({s.seed for s in more}) == len(more)
    larger = kws.plan_kws_corpus("small", seed=3, extra_unknown=1.0, vowel_variants=0.2)
    assert set(more) < set(larger)  # a larger share keeps the smaller one's clips
    for bad in (-0.5, 5):
        with pytest.raises(MelflowError, match="--extra-unknown"):
            kws.plan_kws_corpus("tiny", seed=3, extra_unknown=bad)


def test_drawn_speakers_add_train_clips_of_every_speech_class_by_speakers_no_other_clip_has():
    bare = kws.plan_kws_corpus("small", seed=3)
    plain = kws.plan_kws_corpus("small", seed=3, extra_unknown=0.5)
    more = kws.plan_kws_corpus("small", seed=3, extra_unknown=0.5, drawn_speakers=0.5)
    plain_set = set(plain)
    added = [s for s in more if s not in plain_set]
    assert plain_set < set(more) and {s.split for s in added} == {"train"}  # val and test stay as they are
    assert {s.label for s in added} == set(kws.KEYWORDS) | {"_unknown_"}
    for label in ("yes", "_unknown_"):
        n = sum(s.split == "train" and s.label == label and s.phonemes is None for s in bare)
        assert sum(s.label == label for s in added) == round(0.5 * n)
    others = {s.speaker for s in plain}
    assert not {s.speaker for s in added} & others and all("+random" in s.speaker for s in added)
    assert len({s.speaker for s in added}) > 0.6 * len(added)  # a clip or two each
    assert len({s.relpath for s in more}) == len(more) and len({s.seed for s in more}) == len(more)
    assert set(more) < set(kws.plan_kws_corpus("small", seed=3, extra_unknown=0.5, drawn_speakers=1.0))
    with pytest.raises(MelflowError, match="--drawn-speakers"):
        kws.plan_kws_corpus("tiny", seed=3, drawn_speakers=-1)


def test_vowel_variants_add_train_keywords_said_with_another_accents_vowel():
    share = pronunciations.VOWEL_VARIANT_SHARE
    plain, varied = kws.plan_kws_corpus("tiny", seed=3), kws.plan_kws_corpus("tiny", seed=3, vowel_variants=share)
    added = [s for s in varied if s not in set(plain)]
    assert set(plain) < set(varied) and {s.split for s in added} == {"train"}  # val and test stay as they are
    assert {s.label for s in added} == set(kws.KEYWORDS)
    for s in added:
        assert s.phonemes in pronunciations.VOWEL_VARIANTS[s.label], s
        assert s.speaker.startswith("espeak:") and s.speaker[7:].partition("+")[0] in pronunciations.ENGLISH_ACCENTS, s
    assert len({s.relpath for s in varied}) == len(varied)  # no clip overwrites another
    both = kws.plan_kws_corpus("tiny", seed=3, accented_voices=True, vowel_variants=share)
    assert len({s.relpath for s in both}) == len(both) and len({s.seed for s in both}) == len(both)
    # a larger share keeps the smaller one's clips (a corpus grows by rendering only the rest)
    more = kws.plan_kws_corpus("tiny", seed=3, vowel_variants=5 * share)
    assert set(varied) < set(more) and len(more) - len(plain) == 5 * len(added)
    for bad in (-0.1, 4.5):
        with pytest.raises(MelflowError, match="--vowel-variants"):
            kws.plan_kws_corpus("tiny", seed=3, vowel_variants=bad)
    # a variant keeps the keyword's consonants and is never another keyword's own pronunciation
    for word, variants in pronunciations.VOWEL_VARIANTS.items():
        assert len(set(variants)) == len(variants), word
        others = {v for w, vs in pronunciations.VOWEL_VARIANTS.items() if w != word for v in vs}
        assert not set(variants) & others, word


def test_vowel_shifts_are_the_keywords_variants_per_vowel():
    """unknown_vowels.VOWEL_SHIFTS takes each keyword's stressed vowel to the vowels of its
    variants, and reads a stressed vowel only where it is one of those (not aI@, not u:)."""
    assert unknown_vowels.VOWEL_SHIFTS == {"E": ["I", "eI", "a"], "oU": ["o:", "@U", "O:"], "V": ["0", "O:", "a", "@", "U"],
                                           "aU": ["u:", "@U", "a:"], "aI": ["OI", "@I", "a:"], "0": ["O:", "A:", "a", "V"]}
    for word, variants in pronunciations.VOWEL_VARIANTS.items():
        own = unknown_vowels.KEYWORD_VOWELS[word]
        assert {unknown_vowels.stressed_vowel(v)[1] for v in variants} <= set(unknown_vowels.VOWEL_SHIFTS[own]), word
    assert unknown_vowels.shifted_vowels("h@l'oU") == ["h@l'o:", "h@l'@U", "h@l'O:"]
    assert unknown_vowels.shifted_vowels("r'a:t") == [] and unknown_vowels.stressed_vowel("r'a:t")[1] == "a:"
    assert unknown_vowels.shifted_vowels("f'aI@") == [] and unknown_vowels.shifted_vowels("t'u:") == []
    assert unknown_vowels.shifted_vowels("hello") == []


@needs_tts
def test_unknown_vowel_variants_add_train_unknown_words_said_with_shifted_vowels():
    share = 0.5
    plain = kws.plan_kws_corpus("tiny", seed=3, vowel_variants=0.2)
    varied = kws.plan_kws_corpus("tiny", seed=3, vowel_variants=0.2, unknown_vowel_variants=share)
    added = [s for s in varied if s not in set(plain)]
    assert set(plain) < set(varied) and {(s.split, s.label) for s in added} == {("train", "_unknown_")}
    said_as = unknown_vowels.unknown_word_variants()
    assert len(added) == round(kws.SIZES["tiny"][0] * 1.2 * share) and len({s.word for s in added}) == len(added)
    for s in added:
        assert s.phonemes in said_as[s.word] and s.relpath.split("/")[-1].startswith(f"{s.word}-"), s
        assert s.speaker.startswith("espeak:") and s.speaker[7:].partition("+")[0] in pronunciations.ENGLISH_ACCENTS, s
    assert len({s.relpath for s in varied}) == len(varied)
    # no variant is how a keyword, one of its variants or another word is said
    taken = {unknown_vowels.transcription(w) for w in kws.KEYWORDS + kws.UNKNOWN_WORDS}
    taken |= {v for vs in pronunciations.VOWEL_VARIANTS.values() for v in vs}
    assert said_as and not {v for vs in said_as.values() for v in vs} & taken
    with pytest.raises(MelflowError, match="--unknown-vowel-variants"):
        kws.plan_kws_corpus("tiny", seed=3, unknown_vowel_variants=-1)


@needs_tts
def test_vowel_variant_is_said_from_phonemes_not_read_as_spelling():
    spec = next(s for s in kws.plan_kws_corpus("tiny", seed=3, vowel_variants=pronunciations.VOWEL_VARIANT_SHARE)
                if s.phonemes)
    said = kws.render_clip(spec).astype(np.float64)
    spelled = kws.render_clip(dataclasses.replace(spec, phonemes=None)).astype(np.float64)
    assert np.abs(said).max() > 100 and not np.array_equal(said, spelled)
    # espeak-ng itself: the phonemes as given, not the brackets spelled out
    res = subprocess.run(["espeak-ng", "-q", "-x", "-v", "en-gb", pronunciations.espeak_phoneme_input("'0p")],
                         capture_output=True, text=True)
    assert res.stdout.strip() == "'0p", res.stdout


@needs_tts
def test_every_accented_festival_voice_speaks(tmp_path):
    """Each voice renders a respelled keyword to audible audio (a voice that crashes or
    is missing would stop a corpus run halfway)."""
    for i, voice in enumerate(festival_accents.ACCENTED_VOICES):
        path = str(tmp_path / f"{voice}.wav")
        kws_render._festival(kws.KEYWORDS[i % len(kws.KEYWORDS)], f"festival:{voice}#00", 1.0, path, str(tmp_path))
        x = sf.read(path)[0]
        assert len(x) and np.sqrt(np.mean(x ** 2)) > 0.01, voice


def test_accented_voice_probe_uses_speakers_train_never_has(load_script):
    probe = load_script("probe_accented_voices.py")
    specs = probe["probe_specs"](20, seed=0)
    train = set(kws.split_speakers(accented_voices=True)["train"])
    assert not {s.speaker for s in specs} & train
    assert {s.speaker.split(":")[1].split("#")[0] for s in specs} == set(festival_accents.ACCENTED_VOICES)
    assert sorted({s.label for s in specs}) == sorted(kws.KEYWORDS)
    assert len({s.relpath for s in specs}) == len(specs) == 20 * len(festival_accents.ACCENTED_VOICES)
    # leave-voices-out: a corpus with some voices, a probe of the others, the same clips as in the full probe
    heard = ["lp_diphone", "czech_dita"]
    train = {s.speaker for s in kws.plan_kws_corpus("small", seed=0, accented_voices=",".join(heard)) if s.speaker}
    assert {v for v in festival_accents.ACCENTED_VOICES if any(f"festival:{v}#" in t for t in train)} == set(heard)
    unheard = probe["probe_specs"](20, seed=0, voices="czech_ph,upc_ca_ona_hts")
    assert {s.speaker.split(":")[1].split("#")[0] for s in unheard} == {"czech_ph", "upc_ca_ona_hts"}
    assert set(unheard) < set(specs)
    with pytest.raises(MelflowError, match="klingon_diphone"):
        kws.plan_kws_corpus("tiny", accented_voices="czech_ph,klingon_diphone")


def test_vowel_shift_probe_says_every_keyword_every_way_by_speakers_train_never_has(load_script):
    probe = load_script("probe_vowel_shift.py")
    specs = probe["probe_specs"](3, seed=0)
    assert not {s.speaker for s in specs} & set(kws.split_speakers()["train"])
    assert len({s.relpath for s in specs}) == len(specs) == 3 * sum(1 + len(v) for v in pronunciations.VOWEL_VARIANTS.values())
    assert {probe["pronunciation"](s) for s in specs} == (
        {f"{w}+own" for w in kws.KEYWORDS} | {f"{w}+{v}" for w, vs in pronunciations.VOWEL_VARIANTS.items() for v in vs})
    groups = [{"value": "up+own", "accuracy": 1.0, "clips": 3}, {"value": "up+'0p", "accuracy": 0.0, "clips": 2},
              {"value": "off+'Vf", "accuracy": 0.5, "clips": 2}]
    assert probe["share_correct"](groups, own=True) == 1.0 and probe["share_correct"](groups, own=False) == 0.25


def test_neural_voices_add_train_clips_said_by_kokoro_speakers_of_three_of_its_voices():
    plain = kws.plan_kws_corpus("small", seed=3, extra_unknown=0.5, drawn_speakers=0.5)
    more = kws.plan_kws_corpus("small", seed=3, extra_unknown=0.5, drawn_speakers=0.5, neural_voices=0.2)
    plain_set = set(plain)
    added = [s for s in more if s not in plain_set]
    assert plain_set < set(more) and {s.split for s in added} == {"train"}  # the other clips stay as they are
    assert {s.label for s in added} == set(kws.KEYWORDS) | {"_unknown_"}
    bare = kws.plan_kws_corpus("small", seed=3)
    n = sum(s.split == "train" and s.label == "yes" for s in bare)
    assert sum(s.label == "yes" for s in added) == round(0.2 * n)
    assert {s.speaker for s in added} == set(kokoro_voices.train_speakers())  # every one speaks
    heard = {v for s in added for v in s.speaker.split(":")[1].split("#")[0].split("+")}
    assert heard == set(kokoro_voices.TRAIN_VOICES) and not heard & set(kokoro_voices.PROBE_VOICES)
    assert len({s.relpath for s in more}) == len(more)
    with pytest.raises(MelflowError, match="--neural-voices"):
        kws.plan_kws_corpus("tiny", seed=3, neural_voices=5)


def test_kokoro_reads_every_corpus_word_in_its_own_phoneme_symbols():
    for accent in ("en-us", "en-gb"):
        for word in kws.KEYWORDS + kws.UNKNOWN_WORDS:
            p = kokoro_voices.kokoro_phonemes(word, accent)  # raises on a symbol Kokoro lacks
            assert p and not any(d in p for d in ("oʊ", "əʊ", "eɪ", "aɪ", "aʊ", "dʒ", "tʃ")), (word, accent, p)
    assert kokoro_voices.kokoro_phonemes("go", "en-us") == "ɡˈO" and kokoro_voices.kokoro_phonemes("go", "en-gb") == "ɡˈQ"
    with pytest.raises(MelflowError, match="not a Kokoro speaker"):
        kokoro_voices.synthesize("go", "kokoro:af_heart#00", 1.0)


@needs_tts
def test_kokoro_clips_are_pure_functions_of_their_spec_and_a_mix_is_a_voice_of_its_own():
    spec = next(s for s in kws.plan_kws_corpus("tiny", seed=3, neural_voices=0.3) if s.speaker and "kokoro:" in s.speaker)
    first = kws.render_clip(spec)
    kokoro_voices._synthesize_cached.cache_clear()  # synthesised afresh, not taken from the process's cache
    assert np.array_equal(kws.render_clip(spec), first) and np.abs(first.astype(np.float64)).max() > 100
    alone, mixed = (kokoro_voices.synthesize("stop", f"kokoro:{v}#00", 1.0) for v in ("jf_alpha", "jf_alpha+jm_kumo"))
    assert len(alone) > 0.2 * kokoro_voices.SAMPLE_RATE and np.sqrt(np.mean(alone ** 2)) > 0.01
    n = min(len(alone), len(mixed))
    assert not np.allclose(alone[:n], mixed[:n], atol=1e-3)


def test_neural_voice_probe_speaks_with_voices_no_split_has(load_script):
    probe = load_script("probe_neural_voices.py")
    specs = probe["probe_specs"](20, seed=0)
    assert {s.speaker.split(":")[1].split("#")[0] for s in specs} == set(kokoro_voices.PROBE_VOICES)
    everyone = probe["probe_specs"](20, seed=0, voices="all")
    assert set(specs) < set(everyone) and len(everyone) == 20 * len(kokoro_voices.VOICES)
    train = {s.speaker for s in kws.plan_kws_corpus("small", seed=0, neural_voices=0.2) if s.speaker}
    assert not {s.speaker for s in everyone} & train  # the train voices at variants train never has
    assert sorted({s.label for s in specs}) == sorted(kws.KEYWORDS)
    with pytest.raises(MelflowError, match="af_heart"):
        probe["probe_specs"](20, seed=0, voices="jf_alpha,af_heart")


def test_missing_festival_voice_is_named_with_its_package(monkeypatch, tmp_path):
    monkeypatch.setattr(kws_render, "_FESTIVAL_VOICE_DIR", tmp_path)
    monkeypatch.setattr(kws_render.shutil, "which", lambda t: "/usr/bin/" + t)
    espeak_only = [s for s in kws.plan_kws_corpus("tiny", seed=3) if s.speaker and s.speaker.startswith("espeak:")]
    kws_render._check_tools(espeak_only)  # clips that need no festival voice do not ask for one
    with pytest.raises(MelflowError, match="czech_ph.*festvox-czech-ph"):
        kws_render._check_tools(kws.plan_kws_corpus("small", seed=3, accented_voices=True))  # tiny adds too few clips to need every voice


def test_cli_reports_bad_seed_without_traceback(tmp_path):
    res = subprocess.run([sys.executable, "-m", "melflow.cli", "data", "kws", "--out", str(tmp_path), "--seed", "-1"],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert "melflow: error:" in res.stderr and "Traceback" not in res.stderr
