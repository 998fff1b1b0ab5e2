"""FASTA checks made before any upload: bad input fails in seconds, not after a queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

# IUPAC nucleotide codes (Bakta accepts them); MFannotWeb and the codon service are stricter.
IUPAC_DNA = frozenset("ACGTURYSWKMBDHVN")
ACGTUN = frozenset("ACGTUN")
ACGTU = frozenset("ACGTU")
PROTEIN_ONLY = frozenset("EFILPQXZJO*")


@dataclass
class FastaRecord:
    id: str
    length: int = 0
    chunks: list[str] = field(default_factory=list, repr=False)

    @property
    def sequence(self) -> str:
        return "".join(self.chunks)


def read_fasta(
    path: Path,
    *,
    service: str,
    alphabet: frozenset[str] = IUPAC_DNA,
    keep_sequences: bool = False,
) -> list[FastaRecord]:
    """Validate a nucleotide FASTA file line by line; keep the sequences only when asked."""
    records: list[FastaRecord] = []
    seen: set[str] = set()
    name = path.name

    def fail(line_no: int, why: str) -> InputError:
        return InputError(service, f"{name}, line {line_no}: {why}")

    letters_ok = "".join(sorted(alphabet))
    allowed = (letters_ok + letters_ok.lower()).encode("ascii")
    try:
        with open(path, "rb") as handle:
            for line_no, raw in enumerate(handle, start=1):
                # The common case first, a clean sequence line: bytes only, no sets (2x faster).
                clean = raw.strip()
                ordinary = records and clean and not clean.startswith(b">")
                if ordinary and not clean.translate(None, allowed):
                    records[-1].length += len(clean)
                    if keep_sequences:
                        records[-1].chunks.append(clean.decode("ascii").upper())
                    continue
                try:
                    line = raw.decode("ascii").strip()
                except UnicodeDecodeError:
                    raise fail(
                        line_no, "not a plain-text FASTA file (binary or compressed?)"
                    ) from None
                if not line:
                    continue
                if line.startswith(">"):
                    seq_id = line[1:].split(maxsplit=1)[0] if line[1:].strip() else ""
                    if not seq_id:
                        raise fail(line_no, "a '>' header without a sequence id")
                    if seq_id in seen:
                        raise fail(line_no, f"duplicate sequence id '{seq_id}'")
                    if records and records[-1].length == 0:
                        raise fail(line_no, f"sequence '{records[-1].id}' is empty")
                    seen.add(seq_id)
                    records.append(FastaRecord(seq_id))
                    continue
                if not records:
                    raise fail(line_no, "not FASTA: the first line must be a '>' header")
                letters = "".join(line.split()).upper()
                bad = set(letters) - alphabet
                if bad:
                    if bad & PROTEIN_ONLY and not bad - PROTEIN_ONLY - set(IUPAC_DNA):
                        raise fail(
                            line_no,
                            f"'{records[-1].id}' looks like protein; nucleotides are needed",
                        )
                    shown = "".join(sorted(bad))[:10]
                    raise fail(
                        line_no, f"characters '{shown}' are not allowed (allowed: {letters_ok})"
                    )
                records[-1].length += len(letters)
                if keep_sequences:
                    records[-1].chunks.append(letters)
    except OSError as exc:
        raise InputError(service, f"cannot read {path}: {exc.strerror}") from None
    if not records:
        raise InputError(service, f"{name}: empty file, no FASTA sequence found")
    if records[-1].length == 0:
        raise InputError(service, f"{name}: sequence '{records[-1].id}' is empty")
    return records
