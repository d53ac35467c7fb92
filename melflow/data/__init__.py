"""melflow.data stage: corpora as manifests (CSV `path,label[,speaker,split,onset,offset]`).

- `melflow.data.audio`: `load_audio` (any soundfile format -> 16 kHz mono int16),
  `fit_length`, `write_wav`.
- `melflow.data.manifest`: `ManifestRow`, `read_manifest`, `write_manifest`.
- `melflow.data.kws`: `KEYWORDS`, `LABELS` (class index order), `CLIP_SAMPLES` and
  `generate_kws_corpus`, the speaker-disjoint Speech Commands-style corpus from
  espeak-ng, flite and festival: which clips it has (`plan_kws_corpus`).
- `melflow.data.kws_render`: how each of those clips sounds (`render_clip`), and
  `render_specs`, which keeps clips already rendered by the same code and synthesisers.
- `melflow.data.kws_words`: the keywords, the other words and the babble words.
- `melflow.data.espeak_voices`: espeak-ng voice variants drawn at random, so that train
  can hear more voices than espeak-ng ships (`--random-voices N` adds speakers to the
  plain clips, `--drawn-speakers SHARE` adds clips said by a few thousand such speakers).
- `melflow.data.festival_accents`: festival voices of other languages and the keywords
  respelled in their orthographies, for accented English in train (`--accented-voices`).
- `melflow.data.pronunciations`: the keywords with the vowels of other English accents, in
  espeak-ng phonemes, so that train makes the consonants carry the class (`--vowel-variants`).
- `melflow.data.unknown_vowels`: the same vowel shifts applied to the `_unknown_` words, so
  that a shifted vowel does not come to mean "a keyword" (`--unknown-vowel-variants SHARE`).
- `melflow.data.kokoro_voices`: the neural Kokoro-82M saying the words with three of its
  voices and their mixes in train (`--neural-voices SHARE`), and two more that no split has,
  for `scripts/probe_neural_voices.py`.
"""
