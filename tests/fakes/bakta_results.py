"""Genuine-looking Bakta result files, generated offline from any small genome FASTA.

The fake Bakta web service of the test suite serves these. :func:`make_results` renames the
contigs like Bakta, predicts CDSs with a naive ORF finder, "annotates" them deterministically as
a light-database run would, and renders every result file of the Bakta web API in the layout of
Bakta's own writers (v1.9; the inference table has the layout of v1.10, which introduced it).
:func:`make_genome` makes a small random genome with planted genes to feed it.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

RUN_DATE = "2024-05-17 10:23:45"  # fixed, so that the same input gives the same bytes
DOI = "10.1099/mgen.0.000685"
URL = "github.com/oschwengers/bakta"
HYPOTHETICAL = "hypothetical protein"
MIN_ORF_LENGTH = 90  # nucleotides, stop codon included
_CODONS = [a + b + c for a in "TCAG" for b in "TCAG" for c in "TCAG"]
_AMINO_ACIDS = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
_CODE = dict(zip(_CODONS, _AMINO_ACIDS, strict=True))  # translation table 11
_SENSE = [c for c in _CODONS if _CODE[c] != "*"]
_STARTS = ("ATG", "GTG", "TTG")
_COMPLEMENT = str.maketrans("ACGTRYKMBVDHN", "TGCAYRMKVBHDN")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# Hits in the light database's protein sequence clusters: gene, product, COG, COG category, EC
_PRODUCTS = (
    ("repA", "Replication initiation protein RepA", "COG5527", "L", ""),
    ("parA", "Plasmid partition protein ParA", "COG1192", "D", ""),
    ("tnpA", "IS6 family transposase", "COG2801", "X", ""),
    ("gyrB", "DNA gyrase subunit B", "COG0187", "L", "5.6.2.2"),
    ("trpC", "Indole-3-glycerol phosphate synthase", "COG0134", "E", "4.1.1.48"),
    ("", "DUF1471 domain-containing protein", "", "", ""),
    ("", "Lipoprotein", "COG3047", "M", ""),
)
# Biopython's average amino acid masses and pK values (Bakta computes seq_stats with Biopython)
_AA_MASS = dict(
    zip(
        "ACDEFGHIKLMNOPQRSTUVWY",
        (
            89.0932,
            121.1582,
            133.1027,
            147.1293,
            165.1891,
            75.0666,
            155.1546,
            131.1729,
            146.1876,
            131.1729,
            149.2113,
            132.1179,
            255.3134,
            115.1305,
            146.1445,
            174.201,
            105.0926,
            119.1192,
            168.0532,
            117.1463,
            204.2252,
            181.1885,
        ),
        strict=True,
    )
)
_PK_POS = {"K": 10.0, "R": 12.0, "H": 5.98}
_PK_NEG = {"D": 4.05, "E": 4.45, "C": 9.0, "Y": 10.0}
_PK_NTERM = {"A": 7.59, "M": 7.0, "S": 6.93, "P": 8.36, "T": 6.82, "V": 7.44, "E": 7.7}
_PK_CTERM = {"D": 4.55, "E": 4.75}
_NO_FEATURES = (
    "tRNAs",
    "tmRNAs",
    "rRNAs",
    "ncRNAs",
    "regulatory ncRNAs",
    "CRISPR Arrays",
    "oriCs/oriVs",
    "oriTs",
    "gaps",
    "pseudogenes",
)

Feature = dict[str, Any]


@dataclass
class _Run:
    contigs: list[dict[str, Any]]  # the JSON "sequences"
    features: list[Feature]  # the JSON "features" (CDSs only)
    genome: dict[str, Any]  # the JSON "genome"
    software: str  # "1.9.4"
    db_version: str  # "5.1"
    db_type: str  # "light"
    start: datetime

    @property
    def taxon(self) -> str | None:
        names = (self.genome[k] for k in ("genus", "species", "strain"))
        return " ".join(n for n in names if n) or None

    def banner(self, mark: str = "# ") -> list[str]:
        """The provenance lines Bakta puts on top of its files."""
        return [
            f"{mark}Annotated with Bakta",
            f"{mark}Software: v{self.software}",
            f"{mark}Database: v{self.db_version}, {self.db_type}",
            f"{mark}DOI: {DOI}",
            f"{mark}URL: {URL}",
        ]


def _revcomp(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


def _wrap(seq: str, width: int = 60) -> str:
    return "".join(seq[i : i + width] + "\n" for i in range(0, len(seq), width))


def _translate(nt: str, table: int) -> str:
    """The protein of a complete ORF: initiator M, no trailing stop."""
    codons = (nt[i : i + 3] for i in range(3, len(nt) - 3, 3))
    special = {4: "W", 25: "G"}.get(table)  # what TGA codes for in tables 4 and 25
    return "M" + "".join(special if special and c == "TGA" else _CODE.get(c, "X") for c in codons)


def _find_orfs(seq: str, table: int) -> list[tuple[int, int, str]]:
    """ORFs (start .. stop codon, both strands), chosen greedily longest first without overlaps."""
    stops = {"TAA", "TAG"} if table in (4, 25) else {"TAA", "TAG", "TGA"}
    length, found = len(seq), []
    for strand, s in (("+", seq), ("-", _revcomp(seq))):
        for frame in range(3):
            begin = -1
            for i in range(frame, length - 2, 3):
                if s[i : i + 3] in stops:
                    if begin >= 0 and i + 3 - begin >= MIN_ORF_LENGTH:
                        forward = strand == "+"
                        found.append(
                            (
                                begin + 1 if forward else length - i - 2,
                                i + 3 if forward else length - begin,
                                strand,
                            )
                        )
                    begin = -1
                elif begin < 0 and s[i : i + 3] in _STARTS:
                    begin = i
    chosen: list[tuple[int, int, str]] = []
    for orf in sorted(found, key=lambda o: (o[0] - o[1], o[0], o[2])):
        if all(orf[1] < c[0] or orf[0] > c[1] for c in chosen):
            chosen.append(orf)
    return sorted(chosen)


def _rbs_motif(upstream: str) -> str | None:
    """A Prodigal-style ribosome binding site label for the 20 nt upstream of a start codon."""
    for motifs, label in (
        (("AGGAGG",), "AGGAGG"),
        (("GGAG", "GAGG"), "GGAG/GAGG"),
        (("AGGA",), "AGGA/GGAG/GAGG"),
        (("GGA", "GAG", "AGG"), "GGA/GAG/AGG"),
    ):
        if any(m in upstream for m in motifs):
            return label
    return None


def _seq_stats(aa: str) -> dict[str, float | None]:
    """Molecular weight and isoelectric point, computed as Biopython's ProteinAnalysis does."""
    if not aa or any(c not in _AA_MASS for c in aa):
        return {"molecular_weight": None, "isoelectric_point": None}
    pos = [(_PK_NTERM.get(aa[0], 7.5), 1)] + [(pk, aa.count(c)) for c, pk in _PK_POS.items()]
    neg = [(_PK_CTERM.get(aa[-1], 3.55), 1)] + [(pk, aa.count(c)) for c, pk in _PK_NEG.items()]

    def charge(ph: float) -> float:
        plus = minus = 0.0
        for pk, n in pos:
            plus += n * (1.0 / (10 ** (ph - pk) + 1.0))
        for pk, n in neg:
            minus += n * (1.0 / (10 ** (pk - ph) + 1.0))
        return plus - minus

    ph, low, high = 7.775, 4.05, 12.0
    while high - low > 0.0001:  # bisection, as Biopython's IsoelectricPoint.pi()
        low, high = (ph, high) if charge(ph) > 0.0 else (low, ph)
        ph = (low + high) / 2
    weight = sum(_AA_MASS[c] for c in aa) - (len(aa) - 1) * 18.0153
    return {"molecular_weight": weight, "isoelectric_point": ph}


def _tag_prefix(contigs: list[dict[str, Any]], length: int) -> str:
    """Bakta's sequence-derived locus tag prefix (MD5 hex digits, 0-9 shifted to G-P)."""
    digest = hashlib.md5("".join(c["sequence"] for c in contigs).encode()).hexdigest().upper()
    return "".join(chr(ord("G") + int(c)) if c.isdigit() else c for c in digest[:length])


def _contigs(fasta: bytes, organism: str, strain: str | None, table: int) -> list[dict[str, Any]]:
    """Parse the FASTA; rename, classify and describe its sequences as Bakta's contig QC does."""
    contigs, plasmids = [], 0
    for number, chunk in enumerate(fasta.decode("ascii", "replace").split(">")[1:], 1):
        head, _, body = chunk.partition("\n")
        orig_id, _, orig_description = head.strip().partition(" ")
        seq = "".join(body.split()).upper().replace("-", "")
        text = orig_description.lower()
        complete = "circular=true" in text or ("complete" in text and "complete=false" not in text)
        kind = next((k for k in ("chromosome", "plasmid") if k in text), "contig")
        if complete and (len(seq) >= 2_800_000 or len(seq) < 112_000):
            kind = "chromosome" if len(seq) >= 2_800_000 else "plasmid"
        topology = "circular" if complete else "linear"
        tags = [f"[organism={organism}]"] * bool(organism) + [f"[strain={strain}]"] * bool(strain)
        tags += [f"[gcode={table}]", *["[completeness=complete]"] * complete]
        tags.append(f"[topology={topology}]")
        contig = {
            "id": f"contig_{number}",
            "description": "",
            "sequence": seq,
            "length": len(seq),
            "complete": complete,
            "type": kind,
            "topology": topology,
            "simple_id": f"contig_{number}",
            "orig_id": orig_id,
            "orig_description": orig_description.strip(),
        }
        if kind == "chromosome":
            tags.append("[location=chromosome]")
        elif kind == "plasmid":
            plasmids += 1
            contig["name"] = f"unnamed{plasmids}"
            tags.append(f"[plasmid-name=unnamed{plasmids}]")
        contig["description"] = " ".join(dict.fromkeys(tags))
        contigs.append(contig)
    return contigs


def _annotate_psc(feat: Feature) -> None:
    """Give a CDS a deterministic hit in the protein sequence clusters (UniRef90)."""
    d = feat["aa_hexdigest"].upper()
    gene, product, cog, category, ec = _PRODUCTS[int(d[2:4], 16) % len(_PRODUCTS)]
    identity = round(0.9 + int(d[4:6], 16) / 2550, 3)
    score = round(1.9 * len(feat["aa"]) * identity, 1)
    psc: dict[str, Any] = {
        "uniref90_id": f"UniRef90_A0A{d[6:13]}",
        "query_cov": round(0.95 + int(d[13:15], 16) / 5100, 3),
        "subject_cov": round(0.9 + int(d[15:17], 16) / 2550, 3),
        "identity": identity,
        "score": score,
        "evalue": max(10 ** (-score / 5), 1e-300),
        "valid": True,
        "product": product,
    }
    psc.update({"gene": gene} if gene else {}, uniref50_id=f"UniRef50_A0A{d[17:24]}")
    psc.update({"ec_ids": [ec]} if ec else {})
    psc.update({"cog_id": cog, "cog_category": category} if cog else {})
    xrefs = [f"UniRef:{psc['uniref90_id']}", f"UniRef:{psc['uniref50_id']}"]
    xrefs += [f"EC:{ec}"] * bool(ec) + [f"COG:{cog}", f"COG:{category}"] * bool(cog)
    feat.update(
        gene=gene or None,
        product=product,
        db_xrefs=sorted(xrefs),
        psc=psc,
        genes=[gene] * bool(gene),
    )


def _annotate(
    contigs: list[dict[str, Any]],
    prefix: str,
    table: int,
    increment: int = 5,
    regions: Sequence[tuple[str, int, int, str]] = (),
) -> list[Feature]:
    """CDS features in Bakta's JSON layout, with locus tags <prefix>_00005, _00010, ...

    `regions`: user-provided CDSs (original sequence id, start, stop, strand), which replace
    the predicted ones they overlap and are marked `"source": "user-provided"` as Bakta marks
    them (bakta/features/cds.py: import_user_cdss).
    """
    features = []
    for contig in contigs:
        seq, length = contig["sequence"], contig["length"]
        user = [(a, b, s) for seq_id, a, b, s in regions if seq_id == contig["orig_id"]]
        predicted = [
            o for o in _find_orfs(seq, table) if all(o[1] < u[0] or o[0] > u[1] for u in user)
        ]
        for start, stop, strand in sorted(predicted + user):
            forward = strand == "+"
            nt = seq[start - 1 : stop] if forward else _revcomp(seq[start - 1 : stop])
            upstream = seq[max(0, start - 21) : start - 1] if forward else seq[stop : stop + 20]
            aa = _translate(nt, table)
            features.append(
                {
                    "type": "cds",
                    "contig": contig["id"],
                    "start": start,
                    "stop": stop,
                    "strand": strand,
                    "frame": ((start - 1) if forward else (length - stop)) % 3 + 1,
                    "gene": None,
                    "product": None,
                    "db_xrefs": [],
                    "nt": nt,
                    "aa": aa,
                    "aa_hexdigest": hashlib.md5(aa.encode()).hexdigest(),
                    "start_type": nt[:3],
                    "rbs_motif": _rbs_motif(upstream if forward else _revcomp(upstream)),
                    **({"source": "user-provided"} if (start, stop, strand) in user else {}),
                }
            )
    hypothetical = [int(f["aa_hexdigest"][:2], 16) % 3 == 0 for f in features]
    if len(features) >= 2 and len(set(hypothetical)) == 1:  # always show both kinds of CDS
        hypothetical[-1] = not hypothetical[-1]
    id_prefix = _tag_prefix(contigs, 10)
    for number, (feat, hypo) in enumerate(zip(features, hypothetical, strict=True), 1):
        if hypo:
            feat.update(product=HYPOTHETICAL, hypothetical=True, genes=[])
        else:
            _annotate_psc(feat)
        feat.update(
            seq_stats=_seq_stats(feat["aa"]),
            id=f"{id_prefix}_{number}",
            locus=f"{prefix}_{increment * number:05}",
        )
    return features


def _gff_escape(value: str) -> str:
    for char, code in (("%", "%25"), (";", "%3B"), ("=", "%3D"), ("&", "%26"), (",", "%2C")):
        value = value.replace(char, code)
    return value


def _gff3(run: _Run) -> str:
    ontology = "https://github.com/The-Sequence-Ontology/SO-Ontologies/blob/v3.1/so.obo"
    out = ["##gff-version 3", f"##feature-ontology {ontology}"]
    out += [f"# organism {run.taxon}"] * bool(run.taxon) + run.banner()
    for c in run.contigs:
        cid, circular = c["id"], ";Is_circular=true" * (c["topology"] == "circular")
        out += [
            f"##sequence-region {cid} 1 {c['length']}",
            f"{cid}\tBakta\tregion\t1\t{c['length']}\t.\t+\t.\tID={cid};Name={cid}{circular}",
        ]
        for f in (f for f in run.features if f["contig"] == cid):
            product = _gff_escape(f["product"])
            attrs = [
                f"ID={f['locus']}",
                f"Name={product}",
                f"locus_tag={f['locus']}",
                f"product={product}",
            ]
            if f["db_xrefs"]:
                attrs.append("Dbxref=" + ",".join(_gff_escape(x) for x in f["db_xrefs"]))
            attrs += [f"gene={_gff_escape(f['gene'])}"] if f["gene"] else []
            out.append(
                f"{cid}\tProdigal\tCDS\t{f['start']}\t{f['stop']}\t.\t{f['strand']}\t0\t"
                + ";".join(attrs)
            )
    fasta = "".join(f">{c['id']}\n{_wrap(c['sequence'])}" for c in run.contigs)
    return "\n".join([*out, "##FASTA"]) + "\n" + fasta


def _split_words(text: str, width: int) -> list[str]:
    """Biopython's word wrapping of INSDC header lines."""
    text, lines, line = text.strip(), [], ""
    if len(text) <= width:
        return [text]
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line]


def _insdc_feature(
    embl: bool, key: str, location: str, qualifiers: list[tuple[str, Any]]
) -> list[str]:
    """A feature table entry, wrapped like Biopython's GenBank/EMBL writers wrap it."""
    indent = ("FT" if embl else "  ") + " " * 19
    lines = [("FT   " if embl else "     ") + key.ljust(16) + location]
    for name, value in qualifiers:
        text = str(value) if isinstance(value, int) else '"' + value.replace('"', '""') + '"'
        line = f"{indent}/{name}={text}"
        while len(line) > 80:
            cut = line.rfind(" ", 23, 81)
            cut = 80 if cut < 0 else cut
            lines.append(line[:cut])
            line = indent + line[cut:].lstrip()
        lines.append(line)
    return lines


def _insdc_head(run: _Run, c: dict[str, Any], embl: bool, cdss: int) -> list[str]:
    """The header lines of one GenBank/EMBL record, up to the feature table."""
    cid, length, taxon, bacterial = c["id"], c["length"], run.taxon, c["type"] != "contig"
    comment = [
        *run.banner(""),
        "",
        "##Genome Annotation Summary:##",
        f"{'Annotation Date':<30} :: {run.start:%m/%d/%Y, %H:%M:%S}",
        f"{'CDSs':<30} :: {cdss:5,}",
        *(f"{k:<30} :: {0:5,}" for k in _NO_FEATURES),
    ]
    wgs = "whole genome shotgun sequence"
    if c["type"] == "plasmid":
        what = f"plasmid {c['name']}, {'complete sequence' if c['complete'] else wgs}"
    elif c["type"] == "chromosome":
        what = "chromosome, complete genome" if c["complete"] else f"chromosome {cid}, {wgs}"
    else:
        what = f"{cid}, {wgs}"
    definition = f"{taxon or ''} {what}".strip()
    if embl:
        division = "PRO" if bacterial else "UNC"
        return [
            f"ID   {cid}; ; {c['topology']}; DNA; ; {division}; {length} BP.",
            "XX",
            f"AC   {cid};",
            "XX",
            *("DE   " + s for s in _split_words(definition, 75)),
            "XX",
            f"OS   {taxon or '.'}",
            "OC   .",
            "XX",
            *("CC   " + s for line in comment for s in _split_words(line, 75)),
            "XX",
            "FH   Key             Location/Qualifiers",
            "FH",
        ]
    name_length = f"{cid} {length}" if len(cid) > 16 else f"{cid:<16}{length:>12}"
    day = f"{run.start.day:02}-{_MONTHS[run.start.month - 1]}-{run.start.year}"
    out = [
        f"LOCUS       {name_length} bp    DNA     {c['topology']:<8} "
        f"{'BCT' if bacterial else 'UNK'} {day}"
    ]
    for tag, text in (
        ("DEFINITION", definition + "."),
        ("ACCESSION", cid),
        ("VERSION", cid),
        ("KEYWORDS", "."),
        ("SOURCE", str(taxon)),
        ("  ORGANISM", taxon or "."),
        ("", "."),
    ):
        out += [f"{'' if i else tag:<12}{s}" for i, s in enumerate(_split_words(text, 68))]
    notes = [s for line in comment for s in _split_words(line, 68)]
    out += [f"{'' if i else 'COMMENT':<12}{s}" for i, s in enumerate(notes)]
    return [*out, "FEATURES             Location/Qualifiers"]


def _insdc(run: _Run, embl: bool) -> str:
    """The GenBank (.gbff) or EMBL file, as Bakta writes them through Biopython."""
    out, table = [], run.genome["translation_table"]
    for c in run.contigs:
        feats = [f for f in run.features if f["contig"] == c["id"]]
        out += _insdc_head(run, c, embl, len(feats))
        source: list[tuple[str, Any]] = [("mol_type", "genomic DNA")]
        source += [("organism", run.taxon)] * bool(run.taxon)
        source += [("strain", run.genome["strain"])] * bool(run.genome["strain"])
        source += [("plasmid", c["name"])] if c["type"] == "plasmid" else []
        out += _insdc_feature(embl, "source", f"1..{c['length']}", source)
        for f in feats:
            location = f"{f['start']}..{f['stop']}"
            location = location if f["strand"] == "+" else f"complement({location})"
            gene = [("gene", f["gene"])] * bool(f["gene"])
            inference = [("inference", "ab initio prediction:Prodigal:2.6")]
            if "psc" in f:
                hit = f"UniRef:{f['psc']['uniref90_id']}"
                inference.append(("inference", f"similar to AA sequence:{hit}"))
            out += _insdc_feature(embl, "gene", location, [("locus_tag", f["locus"]), *gene])
            out += _insdc_feature(
                embl,
                "CDS",
                location,
                [
                    *(("db_xref", x) for x in f["db_xrefs"]),
                    ("product", f["product"]),
                    ("locus_tag", f["locus"]),
                    ("protein_id", f"gnl|Bakta|{f['locus']}"),
                    ("translation", f["aa"]),
                    ("codon_start", 1),
                    ("transl_table", table),
                    *inference,
                    *gene,
                ],
            )
        seq, length = c["sequence"].lower(), c["length"]
        if embl:
            counts = [seq.count(b) for b in "acgt"]
            out += [
                "XX",
                "SQ   Sequence {} BP; {} A; {} C; {} G; {} T; {} other;".format(
                    length, *counts, length - sum(counts)
                ),
            ]
            out += [
                "    "
                + "".join(f" {seq[j : j + 10]}".ljust(11) for j in range(i, i + 60, 10))
                + str(min(i + 60, length)).rjust(10)
                for i in range(0, length, 60)
            ]
        else:
            out.append("ORIGIN")
            out += [
                str(i + 1).rjust(9)
                + "".join(f" {seq[j : j + 10]}" for j in range(i, min(i + 60, length), 10))
                for i in range(0, length, 60)
            ]
        out.append("//")
    return "\n".join(out) + "\n"


def _tsv(run: _Run) -> str:
    out = [
        *run.banner(),
        "#Sequence Id\tType\tStart\tStop\tStrand\tLocus Tag\tGene\tProduct\tDbXrefs",
    ]
    out += [
        "\t".join(
            [
                f["contig"],
                "cds",
                str(f["start"]),
                str(f["stop"]),
                f["strand"],
                f["locus"],
                f["gene"] or "",
                f["product"],
                ", ".join(f["db_xrefs"]),
            ]
        )
        for f in run.features
    ]
    return "\n".join(out) + "\n"


def _hypotheticals_tsv(run: _Run) -> str:
    """The hypotheticals table (still with Bakta's older two-line header in v1.9)."""
    out = [
        f"#Annotated with Bakta v{run.software}, https://github.com/oschwengers/bakta",
        f"#Database v{run.db_version}, https://doi.org/10.5281/zenodo.4247252",
        "#Sequence Id\tStart\tStop\tStrand\tLocus Tag\tMol Weight [kDa]\tIso El. Point\t"
        "Pfam hits\tDbxrefs",
    ]
    for f in (f for f in run.features if f.get("hypothetical")):
        weight, point = f["seq_stats"]["molecular_weight"], f["seq_stats"]["isoelectric_point"]
        out.append(
            "\t".join(
                [
                    f["contig"],
                    str(f["start"]),
                    str(f["stop"]),
                    f["strand"],
                    f["locus"],
                    f"{weight / 1000:.1f}" if weight else "NA",
                    f"{point:.1f}" if point else "NA",
                    "",
                    ", ".join(f["db_xrefs"]),
                ]
            )
        )
    return "\n".join(out) + "\n"


def _inference_tsv(run: _Run) -> str:
    """Per-CDS inference statistics (the layout of Bakta 1.10, which added this file)."""
    out = [
        *run.banner(),
        "#Sequence Id\tType\tStart\tStop\tStrand\tLocus Tag\tScore\tEvalue\t"
        "Query Cov\tSubject Cov\tId\tAccession",
    ]
    for f in run.features:
        stats, p = ["-"] * 6, f.get("psc")
        if p:
            ratios = (p[k] for k in ("query_cov", "subject_cov", "identity"))
            stats = [
                f"{p['score']:0.1f}",
                f"{p['evalue']:1.1e}",
                *("1.0" if v == 1 else f"{v:0.3f}" for v in ratios),
                f"UniRef:{p['uniref90_id']}",
            ]
        out.append(
            "\t".join(
                [
                    f["contig"],
                    "cds",
                    str(f["start"]),
                    str(f["stop"]),
                    f["strand"],
                    f["locus"],
                    *stats,
                ]
            )
        )
    return "\n".join(out) + "\n"


def _stats(run: _Run) -> dict[str, Any]:
    """The JSON "stats" object: size, GC, N ratio, N50 and coding ratio."""
    seq = "".join(c["sequence"] for c in run.contigs)
    size, n, total, n50 = len(seq), seq.count("N"), 0, 0
    for length in sorted((c["length"] for c in run.contigs), reverse=True):
        total += length
        if total >= size / 2:
            n50 = length
            break
    coding = sum(f["stop"] - f["start"] + 1 for f in run.features)
    return {
        "no_sequences": len(run.contigs),
        "size": size,
        "gc": (seq.count("G") + seq.count("C")) / max(size - n, 1),
        "n_ratio": n / max(size, 1),
        "n50": n50,
        "coding_ratio": coding / max(size - n, 1),
    }


def _summary(run: _Run) -> str:
    """Bakta's <prefix>.txt genome and annotation summary."""
    s, cdss = _stats(run), len(run.features)
    hypotheticals = sum(1 for f in run.features if f.get("hypothetical"))
    counts = {
        "tRNAs": 0,
        "tmRNAs": 0,
        "rRNAs": 0,
        "ncRNAs": 0,
        "ncRNA regions": 0,
        "CRISPR arrays": 0,
        "CDSs": cdss,
        "pseudogenes": 0,
        "hypotheticals": hypotheticals,
        "signal peptides": 0,
        "sORFs": 0,
        "gaps": 0,
        "oriCs": 0,
        "oriVs": 0,
        "oriTs": 0,
    }
    lines = [
        "Sequence(s):",
        f"Length: {s['size']}",
        f"Count: {s['no_sequences']}",
        f"GC: {100 * s['gc']:.1f}",
        f"N50: {s['n50']}",
        f"N ratio: {100 * s['n_ratio']:.1f}",
        f"coding density: {100 * s['coding_ratio']:.1f}",
        "",
        "Annotation:",
        *(f"{k}: {v}" for k, v in counts.items()),
        "",
        "Bakta:",
        *run.banner("")[1:],
    ]
    return "\n".join(lines) + "\n"


def _json(run: _Run) -> str:
    end = run.start + timedelta(seconds=20 + len(run.features))
    doc = {
        "genome": run.genome,
        "stats": _stats(run),
        "features": run.features,
        "sequences": run.contigs,
        "run": {"start": f"{run.start:%Y-%m-%d %H:%M:%S}", "end": f"{end:%Y-%m-%d %H:%M:%S}"},
        "version": {"bakta": run.software, "db": {"version": run.db_version, "type": run.db_type}},
    }
    return json.dumps(doc, indent=4)


def _plot_tracks(run: _Run, bins: int) -> tuple[list[int], list[float], list[float]]:
    """Per angular bin: CDS strands (bit 1 forward, bit 2 reverse), GC deviation, GC skew."""
    offsets, seq = {}, ""
    for contig in run.contigs:
        offsets[contig["id"]] = len(seq)
        seq += contig["sequence"]
    total, strands = max(len(seq), 1), [0] * bins
    for f in run.features:
        a, b = offsets[f["contig"]] + f["start"] - 1, offsets[f["contig"]] + f["stop"]
        for k in range(a * bins // total, (b * bins - 1) // total + 1):
            strands[k] |= 1 if f["strand"] == "+" else 2
    mean, gc, skew, half = (seq.count("G") + seq.count("C")) / total, [], [], max(total // 100, 15)
    for k in range(bins):
        middle = (2 * k + 1) * total // (2 * bins)
        window = seq[max(middle - half, 0) : middle + half]
        g, c = window.count("G"), window.count("C")
        gc.append((g + c) / max(len(window), 1) - mean)
        skew.append((g - c) / (g + c) if g + c else 0.0)
    return strands, gc, skew


def _png(run: _Run, size: int = 200) -> bytes:
    """A circular genome plot (CDS rings, backbone, GC content, GC skew) as an RGB PNG."""
    bins = 720
    strands, gc, skew = _plot_tracks(run, bins)
    raw = bytearray()
    for y in range(size):
        raw.append(0)  # filter type of the scanline: none
        for x in range(size):
            dx, dy = x + 0.5 - size / 2, y + 0.5 - size / 2
            r = math.hypot(dx, dy) * 200 / size
            k = int((math.atan2(dx, -dy) % math.tau) / math.tau * bins) % bins
            gc_r, skew_r = 55 + max(-14.0, min(14.0, gc[k] * 100)), 26 + 10 * skew[k]
            if 84 <= r < 86:
                raw += b"\x00\x00\x00"  # backbone
            elif (88 <= r < 98 and strands[k] & 1) or (72 <= r < 82 and strands[k] & 2):
                raw += b"\xcc\xcc\xcc"  # CDS
            elif min(55, gc_r) <= r < max(55, gc_r):
                raw += b"\x33\xa0\x2c" if gc_r > 55 else b"\xe3\x1a\x1c"
            elif min(26, skew_r) <= r < max(26, skew_r):
                raw += b"\xfd\xbf\x6f" if skew_r > 26 else b"\x1f\x78\xb4"
            else:
                raw += b"\xff\xff\xff"

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + chunk(b"IEND", b"")
    )


def _svg(run: _Run, name: str) -> str:
    """The same circular plot as a small SVG document."""
    bins, total = 360, max(sum(c["length"] for c in run.contigs), 1)
    _, gc, _ = _plot_tracks(run, bins)
    offsets = {
        c["id"]: sum(p["length"] for p in run.contigs[:i]) for i, c in enumerate(run.contigs)
    }

    def point(radius: float, fraction: float) -> str:
        angle = math.tau * fraction
        return f"{200 + radius * math.sin(angle):.2f} {200 - radius * math.cos(angle):.2f}"

    out = [
        '<?xml version="1.0" encoding="utf-8" standalone="no"?>',
        '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN"',
        '  "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">',
        '<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="400pt" height="400pt" '
        'viewBox="0 0 400 400" xmlns="http://www.w3.org/2000/svg" version="1.1">',
        f" <title>{escape(name)}</title>",
        ' <rect x="0" y="0" width="400" height="400" style="fill: #ffffff"/>',
        ' <circle cx="200" cy="200" r="165" style="fill: none; stroke: #000000; stroke-width: 3"/>',
    ]
    for f in run.features:
        offset = offsets[f["contig"]]
        a, b = (offset + f["start"] - 1) / total, (offset + f["stop"]) / total
        r = 180 if f["strand"] == "+" else 150
        out.append(
            f' <path id="{f["locus"]}" d="M {point(r, a)} A {r} {r} 0 {int(b - a > 0.5)} 1 '
            f'{point(r, b)}" style="fill: none; stroke: #cccccc; stroke-width: 20"/>'
        )
    ring = " L ".join(
        point(115 + max(-20.0, min(20.0, gc[k] * 150)), (k + 0.5) / bins) for k in range(bins)
    )
    return (
        "\n".join(
            [
                *out,
                f' <path id="gc" d="M {ring} Z" style="fill: none; stroke: #33a02c"/>',
                f' <text x="200" y="196" text-anchor="middle" font-size="16">{escape(name)}</text>',
                f' <text x="200" y="216" text-anchor="middle" font-size="12">{total:,} bp</text>',
                "</svg>",
            ]
        )
        + "\n"
    )


def make_results(
    name: str,
    fasta: bytes,
    *,
    locus_tag: str = "",
    genus: str | None = None,
    species: str | None = None,
    strain: str | None = None,
    translation_table: int = 11,
    bakta_version: str = "1.9.4",
    db_version: str = "5.1",
    db_type: str = "light",
    run_date: str = RUN_DATE,
    locus_tag_increment: int = 5,
    skip_cds: bool = False,
    regions: Sequence[tuple[str, int, int, str]] = (),
) -> dict[str, bytes]:
    """All result files of one Bakta web API job, keyed by the API's result keys.

    Raises ValueError when the FASTA holds no sequence (Bakta fails such a job too).
    """
    organism = " ".join(t for t in (genus, species) if t)
    contigs = _contigs(fasta, organism, strain, translation_table)
    if not contigs:
        raise ValueError("the FASTA holds no sequence")
    features = _annotate(
        contigs,
        locus_tag or _tag_prefix(contigs, 6),
        translation_table,
        locus_tag_increment,
        regions,
    )
    if skip_cds:
        features = []
    genome = {
        "genus": genus,
        "species": species,
        "strain": strain,
        "complete": all(c["type"] != "contig" for c in contigs),
        "gram": "?",
        "translation_table": translation_table,
    }
    run = _Run(
        contigs,
        features,
        genome,
        bakta_version,
        db_version,
        db_type,
        datetime.strptime(run_date, "%Y-%m-%d %H:%M:%S"),
    )
    hypotheticals = [f for f in features if f.get("hypothetical")]
    texts = {
        "GFF3": _gff3(run),
        "GBFF": _insdc(run, embl=False),
        "EMBL": _insdc(run, embl=True),
        "FNA": "".join(f">{c['id']} {c['description']}\n{_wrap(c['sequence'])}" for c in contigs),
        "FFN": "".join(f">{f['locus']} {f['product']}\n{f['nt']}\n" for f in features),
        "FAA": "".join(f">{f['locus']} {f['product']}\n{f['aa']}\n" for f in features),
        "TSV": _tsv(run),
        "TSVHypothetical": _hypotheticals_tsv(run),
        "FAAHypothetical": "".join(
            f">{f['locus']} {f['product']}\n{f['aa']}\n" for f in hypotheticals
        ),
        "TSVInference": _inference_tsv(run),
        "TXTLogs": _summary(run),
        "JSON": _json(run),
    }
    results = {key: text.encode() for key, text in texts.items()}
    results["PNGCircularPlot"] = _png(run)
    results["SVGCircularPlot"] = _svg(run, name).encode()
    return results


def make_protein_results(
    name: str, faa: bytes, *, bakta_version: str = "1.11.0", db_version: str = "6.0"
) -> dict[str, bytes]:
    """The files of `bakta_proteins` (v2 keys): <name>.tsv, .faa, .hypotheticals.tsv, .json."""
    features = []
    for chunk in faa.decode("ascii", "replace").split(">")[1:]:
        head, _, body = chunk.partition("\n")
        aa = "".join(body.split()).upper().rstrip("*")
        feat: Feature = {
            "id": head.split()[0] if head.split() else f"protein_{len(features) + 1}",
            "length": len(aa),
            "aa": aa,
            "aa_hexdigest": hashlib.md5(aa.encode()).hexdigest(),
            "gene": None,
            "product": HYPOTHETICAL,
            "db_xrefs": [],
        }
        if int(feat["aa_hexdigest"][:2], 16) % 3 == 0:
            feat["hypothetical"] = True
        else:
            _annotate_psc(feat)
        feat["seq_stats"] = _seq_stats(aa)
        features.append(feat)
    banner = [
        f"# Annotated with Bakta (v{bakta_version}): https://github.com/oschwengers/bakta",
        f"# Database (v{db_version}, light): https://doi.org/10.5281/zenodo.4247252",
    ]
    tsv = [*banner, "#ID\tLength\tGene\tProduct\tEC\tGO\tCOG\tRefSeq\tUniParc\tUniRef"]
    for f in features:
        psc = f.get("psc", {})
        tsv.append(
            "\t".join([
                f["id"], str(f["length"]), f.get("gene") or "", f["product"],
                ", ".join(psc.get("ec_ids", [])), "", psc.get("cog_id", ""), "", "",
                ", ".join(x for x in f["db_xrefs"] if x.startswith("UniRef")),
            ])
        )  # fmt: skip
    hypos = [*banner, "#ID\tLength\tMol Weight [kDa]\tIso El. Point\tPfam hits"]
    for f in (f for f in features if f.get("hypothetical")):
        weight, point = f["seq_stats"]["molecular_weight"], f["seq_stats"]["isoelectric_point"]
        hypos.append(
            f"{f['id']}\t{f['length']}\t{weight / 1000:.1f}\t{point:.1f}\t"
            if weight and point
            else f"{f['id']}\t{f['length']}\tNA\tNA\t"
        )
    doc = {
        "features": features,
        "version": {"bakta": bakta_version, "db": {"version": db_version, "type": "light"}},
    }
    texts = {
        "tsv": "\n".join(tsv) + "\n",
        "faa": "".join(f">{f['id']} {f['product']}\n{f['aa']}\n" for f in features),
        "hypotheticals_tsv": "\n".join(hypos) + "\n",
        "json": json.dumps(doc, indent=4),
    }
    return {key: text.encode() for key, text in texts.items()}


def make_baktfold_results(
    name: str, bakta_json: bytes, *, baktfold_version: str = "0.1.1", db_version: str = "0.1"
) -> dict[str, bytes]:
    """Baktfold's files (v2 keys) for a Bakta JSON result: the annotation again, with each
    hypothetical protein annotated by its predicted structure's best hit, and no plots.

    Raises ValueError when the input is not a Bakta JSON result (Baktfold fails then too).
    """
    doc = json.loads(bakta_json)
    genome, contigs = doc["genome"], doc["sequences"]
    fasta = "".join(f">{c['orig_id']} {c['orig_description']}\n{c['sequence']}\n" for c in contigs)
    loci = [f["locus"] for f in doc["features"] if f.get("locus")]
    results = make_results(
        name,
        fasta.encode(),
        locus_tag=loci[0].rsplit("_", 1)[0] if loci else "",
        genus=genome.get("genus"),
        species=genome.get("species"),
        strain=genome.get("strain"),
        translation_table=genome.get("translation_table", 11),
        bakta_version=doc["version"]["bakta"],
        db_version=doc["version"]["db"]["version"],
        locus_tag_increment=(
            int(loci[1].rsplit("_", 1)[1]) - int(loci[0].rsplit("_", 1)[1]) if len(loci) > 1 else 5
        ),
    )
    structure = "Foldseek hit: AlphaFold DB structure of a DUF-containing protein"
    v2_keys = {
        "EMBL": "embl", "FAA": "faa", "FAAHypothetical": "hypotheticals_faa", "FFN": "ffn",
        "FNA": "fna", "GBFF": "gbff", "GFF3": "gff3", "JSON": "json", "TSV": "tsv",
        "TSVHypothetical": "hypotheticals_tsv", "TXTLogs": "logs_txt", "TSVInference": "inference_tsv",
    }  # fmt: skip
    files = {}
    for key, v2_key in v2_keys.items():
        text = results[key].decode()
        text = text.replace("Annotated with Bakta", "Annotated with Baktfold")
        text = text.replace(
            f"Software: v{doc['version']['bakta']}", f"Software: v{baktfold_version}"
        )
        if key not in ("TSVHypothetical", "FAAHypothetical"):
            text = text.replace(HYPOTHETICAL, structure)
        if key == "JSON":
            out = json.loads(text)
            out["version"]["baktfold"] = {"version": baktfold_version, "db": db_version}
            text = json.dumps(out, indent=4)
        files[v2_key] = text.encode()
    return files


def make_genome(
    seed: int = 7,
    lengths: Sequence[int] = (2400, 1200),
    ids: Sequence[str] = ("chromosome_1", "plasmid_1"),
) -> bytes:
    """A random genome FASTA (60 nt a line) with genes planted on alternating strands."""
    rng = random.Random(seed)

    def dna(n: int) -> str:
        return "".join(rng.choice("ACGT") for _ in range(n))

    records = []
    for ident, length in zip(ids, lengths, strict=True):
        parts, used, forward = [], 0, True
        while True:
            codons = "".join(rng.choice(_SENSE) for _ in range(rng.randint(80, 150)))
            # an in-frame stop, a ribosome binding site, the start, sense codons, a stop
            gene = "TGAAGGAGGATAACTATG" + codons + rng.choice(("TAA", "TAG", "TGA"))
            spacer = dna(rng.randint(30, 90))
            if used + len(spacer) + len(gene) + 30 > length:
                break
            parts += [spacer, gene if forward else _revcomp(gene)]
            used, forward = used + len(spacer) + len(gene), not forward
        seq = "".join(parts) + dna(length - used)
        records.append(f">{ident}\n{_wrap(seq)}")
    return "".join(records).encode()


def make_log(
    name: str,
    fasta: bytes,
    *,
    stage: str = "bakta",
    version: str = "1.9.4",
    db_version: str = "5.1",
    finished: bool = True,
    error: str | None = None,
) -> str:
    """A stage's log as Bakta (or Baktfold) writes it to its output: its options, each step,
    and its closing words; cut at its error when it failed on its input (`error`: its words),
    or at the current step while it runs (`finished` False)."""
    contigs = fasta.count(b">")
    tool = "Baktfold" if stage == "baktfold" else "Bakta"
    lines = [
        f"{tool} v{version}",
        "Options and arguments:",
        f"\tinput: /data/{name}",
        f"\tdb: /db, version {db_version}, light",
        "\toutput: /results",
        "\tprefix: result",
        "\tthreads: 8",
        f"parse {'protein' if stage == 'bakta_proteins' else 'genome'} sequences...",
        f"\timported: {contigs}",
    ]
    if error is not None:
        return "\n".join([*lines, error]) + "\n"
    if not finished:
        return "\n".join([*lines, "predict tRNAs..."]) + "\n"
    lines += [
        "predict tRNAs...",
        "predict CDSs...",
        "annotate CDSs...",
        "write results...",
        "\tsummary: /results/result.txt",
        "",
        f"If you use these results please cite {tool}: https://doi.org/{DOI}",
        "Annotation successfully finished in 0:02:17 [mm:ss.ms].",
    ]
    return "\n".join(lines) + "\n"
