"""Property-based tests: the input readers accept or refuse anything with one line, never a traceback."""

from __future__ import annotations

import gzip
import io
import json
import re
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from remote_jobs import bakta, codon
from remote_jobs.errors import InputError
from remote_jobs.fasta import ACGTUN, IUPAC_DNA, read_fasta, upload_body

SETTINGS = settings(max_examples=300, deadline=None)

fasta_like = st.lists(
    st.one_of(
        st.builds(lambda s: ">" + s, st.text(max_size=20)),
        st.text(alphabet="ACGTUNacgtunRYXMKEFP*- \t", max_size=80),
        st.text(max_size=40),
        st.just(""),
    ),
    max_size=12,
).map("\n".join)


def outcome(read: Callable[[Path], Any], content: bytes) -> Any:
    """Run a reader on a file holding `content`: a value, or a one-line InputError."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.txt"
        path.write_bytes(content)
        try:
            return read(path)
        except InputError as exc:
            message = str(exc)
            assert message and "\n" not in message and exc.exit_code == 2
            return exc


@SETTINGS
@given(st.one_of(st.binary(max_size=300), fasta_like.map(str.encode)))
def test_fasta_reader(content: bytes) -> None:
    for alphabet in (IUPAC_DNA, ACGTUN):
        result = outcome(
            lambda p, a=alphabet: read_fasta(p, service="t", alphabet=a, keep_sequences=True),
            content,
        )
        if not isinstance(result, InputError):
            assert result and all(r.id and r.length == len(r.sequence) > 0 for r in result)
            assert len({r.id for r in result}) == len(result)


@SETTINGS
@given(
    st.one_of(
        st.binary(max_size=200),
        st.lists(
            st.lists(st.text(alphabet="abcp_1ACGT,\t lcirular", max_size=12), max_size=6).map(
                "\t".join
            ),
            max_size=5,
        )
        .map("\n".join)
        .map(str.encode),
    )
)
def test_replicon_table_reader(content: bytes) -> None:
    result = outcome(
        lambda p: bakta.read_replicon_table(p, None, {"g.fasta": {"c1", "a", "b"}}), content
    )
    assert isinstance(result, InputError) or result in ("TSV", "CSV")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(alphabet="ACGTUX_ gene_of_interest", max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["sequence", "featureType", "x"]), inner, max_size=3)
    ),
    max_leaves=12,
)


@SETTINGS
@given(st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=100)))
def test_component_reader(content: bytes) -> None:
    result = outcome(codon.load_components, content)
    if not isinstance(result, InputError):
        assert sum(c["featureType"] == "gene_of_interest" for c in result) == 1
        assert all(set(c["sequence"]) <= set("ACGTU") for c in result)


@SETTINGS
@given(st.text(max_size=60))
def test_fitness_spec_parser(text: str) -> None:
    try:
        spec = codon.FitnessSpec.parse(text)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert spec.name and all(k and v for k, v in spec.params.items())


# ---------------------------------------------------------------- valid inputs are accepted
# A reader that refused everything would pass the tests above: what is valid must be read, as
# it is.

id_chars = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"))
# What Python calls printable (no space but U+0020), and tabs.
description = st.text(
    alphabet=st.characters(
        exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"),
        include_characters=" \t",
    ),
    max_size=20,
)


@st.composite
def valid_fasta(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, str]]]:
    """A FASTA file (headers with descriptions, wrapped lines in either case, either line end)
    and its (id, sequence) records as a reader must give them."""
    ids = draw(
        st.lists(
            st.text(alphabet=id_chars, min_size=1, max_size=20), min_size=1, max_size=5, unique=True
        )
    )
    end = draw(st.sampled_from(["\n", "\r\n"]))
    lines, records = [], []
    for seq_id in ids:
        sequence = draw(st.text(alphabet="ACGTUNacgtun", min_size=1, max_size=120))
        width = draw(st.integers(min_value=1, max_value=80))
        words = draw(description)
        lines.append(f">{seq_id} {words}" if words.strip() else f">{seq_id}")
        lines += [sequence[i : i + width] for i in range(0, len(sequence), width)]
        records.append((seq_id, sequence.upper()))
    return end.join(lines).encode() + end.encode(), records


@SETTINGS
@given(valid_fasta())
def test_fasta_reader_reads_valid_fasta(case: tuple[bytes, list[tuple[str, str]]]) -> None:
    content, records = case
    for alphabet in (IUPAC_DNA, ACGTUN):
        result = outcome(
            lambda p, a=alphabet: read_fasta(p, service="t", alphabet=a, keep_sequences=True),
            content,
        )
        assert not isinstance(result, InputError), result
        assert [(r.id, r.sequence) for r in result] == records


cell = st.text(alphabet="abcXYZ019_.- ", max_size=10)


def any_case(words: frozenset[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(words)).flatmap(
        lambda w: st.sampled_from([w, w.upper(), w.capitalize()])
    )


@SETTINGS
@given(
    st.sampled_from(["\t", ","]),
    st.lists(
        st.tuples(
            st.sampled_from(["c1", "a", "b"]),
            cell,
            any_case(bakta.options.REPLICON_TYPES),
            any_case(bakta.options.TOPOLOGIES),
            cell,
        ),
        min_size=1,
        max_size=5,
    ),
    st.booleans(),
)
def test_replicon_table_reader_reads_valid_tables(
    separator: str, rows: list[tuple[str, ...]], comment: bool
) -> None:
    lines = ["#original id, new id, type, topology, name"] if comment else []
    lines += [separator.join(row) for row in rows]
    content = "\n".join(lines).encode()
    result = outcome(
        lambda p: bakta.read_replicon_table(p, None, {"g.fasta": {"c1", "a", "b"}}), content
    )
    assert result == ("TSV" if separator == "\t" else "CSV")


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["promoter", "5_utr", "3_utr", "poly_a_tail", "other"]),
            st.text(alphabet="ACGTUacgtu \n", min_size=1).filter(str.strip),
        ),
        max_size=4,
    ),
    st.text(alphabet="ACGTUacgtu", min_size=1),
    st.integers(min_value=0),
)
def test_component_reader_reads_valid_constructs(
    others: list[tuple[str, str]], gene: str, at: int
) -> None:
    parts = list(others)
    parts.insert(at % (len(parts) + 1), ("gene_of_interest", gene))
    content = json.dumps([{"sequence": s, "featureType": f} for f, s in parts]).encode()
    result = outcome(codon.load_components, content)
    assert result == [{"sequence": "".join(s.split()).upper(), "featureType": f} for f, s in parts]


word = st.text(alphabet="abcxyz_019.-", min_size=1, max_size=10)


@SETTINGS
@given(word, st.dictionaries(word, word, max_size=4))
def test_fitness_spec_parser_reads_valid_specs(name: str, params: dict[str, str]) -> None:
    text = name + (":" + ",".join(f"{k}={v}" for k, v in params.items()) if params else "")
    spec = codon.FitnessSpec.parse(text)
    assert (spec.name, spec.params) == (name, params)


# Bakta's own reader, as the oracle of the genome check (bakta/io/fasta.py, import_sequences):
# xopen (gzip decompressed, text mode: UTF-8, universal newlines), Biopython's FASTA parser,
# then the DNA pattern on the upper-cased sequence without '-'. Biopython is a test-only
# dependency (requirements-dev.txt): the runner never imports it.
BAKTA_DNA_PATTERN = re.compile(r"[ATGCNMRWSYKVHDBN]+", re.IGNORECASE)


def bakta_reads(upload: bytes) -> list[str] | None:
    """The sequence ids Bakta imports from what was uploaded, or None where Bakta fails."""
    from Bio import SeqIO

    try:
        if upload.startswith(b"\x1f\x8b"):
            upload = gzip.decompress(upload)
        ids = []
        for record in SeqIO.parse(io.StringIO(upload.decode("utf-8"), newline=None), "fasta"):
            sequence = str(record.seq).upper().replace("-", "")
            if BAKTA_DNA_PATTERN.fullmatch(sequence) is None:
                return None
            ids.append(record.id)
    except (ValueError, EOFError, OSError):  # UnicodeDecodeError is a ValueError
        return None
    return ids or None  # no sequence: "input file contains no valid sequences"


genome_like = st.tuples(
    st.lists(
        st.one_of(
            st.builds(lambda s: ">" + s, st.text(alphabet="c12 \t\x01é-_", max_size=8)),
            st.text(alphabet="ACGTUNRYacgtun-*EF \t\r\x0b>", max_size=30),
            st.text(max_size=10),
            st.just(""),
        ),
        max_size=10,
    ).map("\n".join),
    st.booleans(),  # a byte order mark first
    st.booleans(),  # gzip-compressed
)


@SETTINGS
@given(st.one_of(genome_like, st.tuples(st.binary(max_size=200), st.just(False), st.booleans())))
def test_the_genome_check_agrees_with_bakta_s_reader(case: tuple[Any, bool, bool]) -> None:
    """What the check takes, Bakta takes, as uploaded (the same sequences); what Bakta takes,
    the check takes, but for what the check refuses on purpose (a duplicate or empty id, a
    control character in a header, a lone CR, which Biopython reads as a line end)."""
    text, bom, packed = case
    content = (b"\xef\xbb\xbf" if bom else b"") + (text.encode() if isinstance(text, str) else text)
    if packed:
        content = gzip.compress(content, mtime=0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "genome.fasta"
        path.write_bytes(content)
        ours = outcome(bakta.read_genome, content)
        try:
            with upload_body(path) as body:  # what is sent once the check passed
                sent = body.read()
        except (EOFError, OSError, zlib.error):  # a broken gzip file: the check refused it
            assert isinstance(ours, InputError)
            sent = content
    theirs = bakta_reads(sent)
    if not isinstance(ours, InputError):
        assert theirs == [record.id for record in ours]
        assert b"\xef\xbb\xbf" not in sent[:3] and not (packed and bom and sent[:2] == b"\x1f\x8b")
    elif theirs is not None:
        on_purpose = ("duplicate sequence id", "control character", "without a sequence id")
        assert any(words in ours.message for words in on_purpose) or b"\r" in content, ours
