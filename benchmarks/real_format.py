"""Large files in the format of the real ones, for benchmarks/bench_pipeline.py --input: each file of the shipped
real fileset (tests/data/atlas/fileset.json) with its events repeated ``--copies`` times, written by ROOT itself
as the release's files are: ``std::vector`` branches, ZLIB level 1.

    python benchmarks/real_format.py --copies 600 --out /tmp/hzz4l-real-600
    python benchmarks/bench_pipeline.py --input /tmp/hzz4l-real-600/fileset.json

Needs ROOT (``pip install -e ".[bench]"``, or any Python with ``import ROOT``); uses nothing else of the project.
600 copies make 2.1 M events in 7 files (the shipped set holds 3,445). The simulated datasets' ``sumw`` is
multiplied by the number of copies, so that their yields stay those of the real files.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ATLAS = Path(__file__).resolve().parent.parent / "tests" / "data" / "atlas"
#: ROOT's compression setting 100 * algorithm + level: ZLIB (1), level 1, as the release's files
ZLIB_LEVEL_1 = 101


def build(copies: int, out: Path) -> Path:
    """Write the repeated files and their fileset into ``out``; return the fileset's path."""
    import ROOT

    fileset = json.loads((ATLAS / "fileset.json").read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, dict] = {}
    for name, entry in fileset.items():
        files = {}
        for path, tree in entry["files"].items():
            chain = ROOT.TChain(tree)
            for _ in range(copies):
                chain.Add(str(ATLAS / path))
            target = out / Path(path).name.replace(".root", f".x{copies}.root")
            output = ROOT.TFile(str(target), "RECREATE", "", ZLIB_LEVEL_1)
            chain.CloneTree(-1).Write()  # every entry, the branches as they are (std::vector), recompressed
            output.Close()
            files[str(target)] = tree
        metadata = dict(entry["metadata"])
        if "sumw" in metadata:
            metadata["sumw"] *= copies
        written[name] = {"files": files, "metadata": metadata}
    path = out / "fileset.json"
    path.write_text(json.dumps(written, indent=2), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=600)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(build(args.copies, args.out))


if __name__ == "__main__":
    main()
