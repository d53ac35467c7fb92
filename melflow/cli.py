"""`melflow` command line. Each sub-command lives in its stage's package; this module only
parses arguments and turns `MelflowError` into a one-line message instead of a traceback."""

from __future__ import annotations

import argparse
import json
import sys

from melflow.core import reports_errors


def _data_kws(args):
    from melflow.data.kws import generate_kws_corpus

    generate_kws_corpus(args.out, size=args.size, seed=args.seed, jobs=args.jobs, splits=args.splits.split(","),
                        random_voices=args.random_voices, accented_voices=args.accented_voices,
                        vowel_variants=args.vowel_variants, extra_unknown=args.extra_unknown,
                        drawn_speakers=args.drawn_speakers, neural_voices=args.neural_voices,
                        unknown_vowel_variants=args.unknown_vowel_variants)


def _data_speech_commands(args):
    from melflow.data.corpora import speech_commands_manifests

    print(json.dumps(speech_commands_manifests(args.root, args.out, seed=args.seed)))


def _data_esc50(args):
    from melflow.data.corpora import esc50_manifests

    print(json.dumps(esc50_manifests(args.root, args.out)))


def _data_folder(args):
    from melflow.data.corpora import folder_manifest

    print(json.dumps({"rows": folder_manifest(args.root, args.out), "manifest": args.out}))


def _train(args):
    from melflow.train.trainer import train_from_config

    train_from_config(args.config, data_dir=args.data, out=args.out, epochs=args.epochs, seed=args.seed, resume=args.resume,
                      log_dir=None if args.logdir == "none" else args.logdir, devices=args.devices,
                      overrides=_precision_overrides(args.precision))


def _precision_overrides(precision: str | None) -> dict | None:
    """`--precision fp32` asks for the whole run in float32, so a config's `fp32_epochs` (the end
    of a bfloat16 run in float32) has nothing left to do and is dropped rather than refused."""
    if precision is None:
        return None
    return {"precision": precision} | ({"fp32_epochs": 0} if precision == "fp32" else {})


def _cv(args):
    from melflow.eval.cv import cross_validate_cli

    cross_validate_cli(args)


def _eval(args):
    from melflow.eval.evaluate import evaluate_cli

    evaluate_cli(args)


def _saliency(args):
    from melflow.eval.saliency import saliency_cli

    saliency_cli(args)


def _frontend_check(args):
    from melflow.frontend.check import frontend_check_cli

    frontend_check_cli(args)


def build_parser() -> argparse.ArgumentParser:
    from melflow.data.pronunciations import VOWEL_VARIANT_SHARE

    p = argparse.ArgumentParser(prog="melflow", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="write corpora as WAVs plus manifests")
    data_sub = data.add_subparsers(dest="corpus", required=True)
    kws = data_sub.add_parser("kws", help="keyword corpus (Speech Commands 12-class task) from espeak-ng and flite")
    kws.add_argument("--out", required=True, help="output folder")
    kws.add_argument("--size", choices=["tiny", "small", "full"], default="small")
    kws.add_argument("--seed", type=int, default=0)
    kws.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per core)")
    kws.add_argument("--splits", default="train,val,test", help="comma-separated splits to render (default: all)")
    kws.add_argument("--random-voices", type=int, default=0,
                     help="drawn espeak-ng voice variants added to train, crossed with every train accent (default 0)")
    kws.add_argument("--accented-voices", nargs="?", const="all", default=None, metavar="VOICES",
                     help="add train clips of festival's Italian, Czech, Finnish, Catalan and Russian voices saying the keywords "
                          "with their accent (15 %% more per speech class; the other clips stay the same); all nine, or those named "
                          "(comma-separated, e.g. czech_dita,lp_diphone)")
    kws.add_argument("--vowel-variants", type=float, nargs="?", const=VOWEL_VARIANT_SHARE, default=0.0, metavar="SHARE",
                     help="add train clips of English espeak-ng voices saying each keyword with the vowel of another accent: "
                          "SHARE more per keyword class (default %(const)s; melflow/data/pronunciations.py)")
    kws.add_argument("--extra-unknown", type=float, default=0.0, metavar="SHARE",
                     help="add SHARE times the _unknown_ class's clips of other words to train, said by its usual speakers "
                          "(default 0)")
    kws.add_argument("--drawn-speakers", type=float, default=0.0, metavar="SHARE",
                     help="add SHARE times each speech class's clips to train, said by speakers no other clip has: drawn "
                          "espeak-ng variants crossed with the train accents, a clip or two each (default 0)")
    kws.add_argument("--neural-voices", type=float, default=0.0, metavar="SHARE",
                     help="add SHARE times each speech class's clips to train, said by the neural Kokoro-82M with three of its "
                          "voices and their mixes (melflow/data/kokoro_voices.py; about 1 s of a core a clip, default 0)")
    kws.add_argument("--unknown-vowel-variants", type=float, default=0.0, metavar="SHARE",
                     help="add SHARE times the _unknown_ class's clips to train, its words said by English espeak-ng voices "
                          "with the vowels --vowel-variants gives the keywords (melflow/data/unknown_vowels.py; default 0)")
    kws.set_defaults(func=_data_kws)
    gsc = data_sub.add_parser("speech-commands", help="train/val/test manifests of a Google Speech Commands v2 folder")
    gsc.add_argument("--root", required=True, help="the corpus folder (with validation_list.txt, testing_list.txt)")
    gsc.add_argument("--out", required=True, help="folder for the manifests and the _silence_ clips")
    gsc.add_argument("--seed", type=int, default=0, help="where _silence_ clips are cut")
    gsc.set_defaults(func=_data_speech_commands)
    esc = data_sub.add_parser("esc50", help="one manifest per ESC-50 fold, plus all.csv")
    esc.add_argument("--root", required=True, help="the corpus folder (with meta/esc50.csv and audio/)")
    esc.add_argument("--out", required=True, help="folder for the manifests")
    esc.set_defaults(func=_data_esc50)
    fold = data_sub.add_parser("folder", help="a manifest of a folder-per-class tree (optionally under train/ val/ test/)")
    fold.add_argument("--root", required=True, help="folder with one subfolder per label")
    fold.add_argument("--out", required=True, help="manifest CSV to write")
    fold.set_defaults(func=_data_folder)

    fe = sub.add_parser("frontend", help="the integer log-Mel frontend")
    fe_sub = fe.add_subparsers(dest="frontend_command", required=True)
    chk = fe_sub.add_parser("check", help="SNR of the integer log-Mel against torchaudio's float log-Mel, as JSON")
    chk.add_argument("--manifest", required=True, help="CSV manifest (path,label,...); labels are not read")
    chk.add_argument("--limit", type=int, default=None, help="check N clips spread evenly over the manifest")
    chk.add_argument("--summary-only", action="store_true", help="leave out the per-clip list")
    chk.set_defaults(func=_frontend_check)

    tr = sub.add_parser("train", help="train a model from its YAML config")
    tr.add_argument("--config", required=True, help="models/<name>.yaml")
    tr.add_argument("--data", required=True, help="corpus folder with train/val/test manifests")
    tr.add_argument("--out", default=None, help="where to write the checkpoint (default: beside the config)")
    tr.add_argument("--epochs", type=int, default=None, help="override the config's epoch count")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--precision", default=None,
                    help="override the config's train.precision (auto, fp32, or bf16: bfloat16 autocast, on the CPU too); "
                         "fp32 trains every epoch in float32, whatever the config's fp32_epochs")
    tr.add_argument("--resume", action="store_true",
                    help="continue an interrupted run from the state saved after its last epoch (<out>.resume.pt)")
    tr.add_argument("--devices", type=int, default=1,
                    help="train data-parallel in N processes (PyTorch DDP, gloo); the batch is shared, the recipe unchanged")
    tr.add_argument("--logdir", default="build/runs",
                    help="TensorBoard runs folder (one sub-folder per run; 'none' for no logs)")
    tr.set_defaults(func=_train)

    cv = sub.add_parser("cv", help="speaker-disjoint K-fold cross-validation of a config: accuracy and macro F1, mean and std")
    cv.add_argument("--config", required=True, help="models/<name>.yaml")
    cv.add_argument("--data", required=True, help="corpus folder: its train and val manifests are pooled and split by speaker")
    cv.add_argument("--folds", type=int, default=5)
    cv.add_argument("--epochs", type=int, default=None, help="override the config's epoch count")
    cv.add_argument("--seed", type=int, default=0)
    cv.add_argument("--out", default=None, help="fold manifests, models and cv.json (default: build/cv/<config name>)")
    cv.set_defaults(func=_cv)

    ev = sub.add_parser("eval", help="accuracy and macro F1 of a model on a manifest, as one JSON line")
    ev.add_argument("--model", required=True, help="checkpoint (.pt) or build directory (for --backend rtl)")
    ev.add_argument("--manifest", required=True, help="CSV manifest (path,label,...)")
    ev.add_argument("--backend", choices=["torch", "golden", "rtl"], default="torch")
    ev.add_argument("--limit", type=int, default=None, help="evaluate N clips spread evenly over the manifest")
    ev.add_argument("--confusion", default=None, metavar="PNG",
                    help="where to save the confusion matrix "
                         "(default: build/eval/<model stem>_<backend>_<manifest folder name>_confusion.png)")
    ev.add_argument("--by", choices=["label", "speaker", "voice", "word"], default=None,
                    help="also the accuracy per class, speaker, voice (speaker id up to its first + or #) or word said, "
                         "worst first, with the classes each group's errors were taken for")
    ev.add_argument("--against", default=None, metavar="MODEL",
                    help="a second model on the same clips and backend: both scores, the difference in points with "
                         "a 95 %% interval over speakers, and McNemar's p-value (melflow/eval/paired.py)")
    ev.set_defaults(func=_eval)

    sal = sub.add_parser("saliency", help="gradient x input saliency maps over the log-Mel input, one PNG per clip")
    sal.add_argument("--model", required=True, help="checkpoint (.pt) or build directory")
    sal.add_argument("--manifest", required=True, help="CSV manifest (path,label,...)")
    which = sal.add_mutually_exclusive_group()
    which.add_argument("--clips", type=int, default=12, metavar="N",
                       help="take the first clip of each class present, at most N (default: 12)")
    which.add_argument("--index", type=int, nargs="+", default=None, metavar="I",
                       help="take these clips instead (row numbers of the manifest, 0 = first clip)")
    sal.add_argument("--out", required=True, help="folder for the PNGs")
    sal.set_defaults(func=_saliency)
    return p


@reports_errors("melflow")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
