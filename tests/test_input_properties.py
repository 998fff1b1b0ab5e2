"""Property-based tests: the input readers accept or refuse anything with one line, never a traceback."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from remote_jobs import bakta, codon
from remote_jobs.errors import InputError
from remote_jobs.fasta import ACGTUN, IUPAC_DNA, read_fasta

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
