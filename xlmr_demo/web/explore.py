"""The Explore tab's questions to a drawn map: find rows, take a selection's rows out or relabel them, share.

The selection arrives from the page's own script (:data:`PAGE_SCRIPT`): Gradio's Plot component sends no
selection events, so the script listens to Plotly's ``plotly_selected`` and writes the selected points' row
positions (each point's ``customdata``) into a hidden textbox, whose change calls :func:`show_selection`.
"""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr

from .. import views
from ..cache import cache_scope
from ..errors import UserError
from ..limits import current as current_limits
from ..limits import over_limit
from ..sessions import Session
from ..views import table_rows
from .visitors import need, task, user_errors

MAP_ID = "embedding-map"
SELECTION_ID = "map-selection"
MAX_LABEL_CHARS = 200

#: Run once when the page loads: right-to-left text (Arabic, Hebrew, Urdu) in table cells and text boxes runs
#: and aligns by its own first letters; and a watch that attaches to the map's Plotly chart each time one is drawn
#: (Gradio draws a new one for every figure, and Plotly's newPlot drops the listeners of the last), sending a box
#: or lasso selection's rows to the hidden textbox.
PAGE_SCRIPT = f"""() => {{
  const style = document.createElement("style");
  style.textContent = ".cell-wrap span.text, td, th, textarea, input {{ unicode-bidi: plaintext; text-align: start; }}"
    + " .cell-wrap span.text {{ width: 100%; }}";
  document.head.appendChild(style);
  const bound = new WeakSet();  // Plotly's event emitters listened to: a new figure (newPlot) makes a new one
  setInterval(() => {{
    const plot = document.querySelector("#{MAP_ID} .js-plotly-plot");
    if (!plot || !plot.on || bound.has(plot._ev || plot)) return;
    bound.add(plot._ev || plot);
    const send = (points) => {{
      const box = document.querySelector("#{SELECTION_ID} textarea");
      if (!box) return;
      const rows = new Set((points || []).map((p) => p.customdata).filter((r) => Number.isInteger(r)));
      box.value = [...rows].join(" ");
      box.dispatchEvent(new Event("input", {{bubbles: true}}));
    }};
    plot.on("plotly_selected", (event) => send(event && event.points));
    plot.on("plotly_deselect", () => send([]));
  }}, 400);
}}"""


def _map(session: Session):
    return need(session.map, session, "Draw the map first (the button above).")


def _rows_update(table) -> dict:
    return {"headers": table.columns, "data": table_rows([list(r) for r in table.rows])}


@user_errors
def find_on_map(query: str, request: gr.Request = None):
    """ "Find": the rows holding the words or closest in meaning, lit on the map and listed."""
    from ..search import SHOWN_ROWS, find_on_map, rows_table

    limit = current_limits().cell_chars
    if len(query or "") > limit:
        raise over_limit(f"The search has {len(query):,} characters; the limit is {limit:,}.", "cell_chars")
    with task(request, "Searching the map") as (session, _), cache_scope(session.cache):
        result = _map(session)
        found = find_on_map(result, query)
        table = rows_table(result, found.rows, found, SHOWN_ROWS)
        return views.map_figure(result, found.lit(len(result.data.texts))), found.words(), _rows_update(table)


@user_errors
def show_selection(selection: str, request: gr.Request = None):
    """A box or lasso selection on the map: its rows (counts by label and language, then the rows)."""
    from ..search import SHOWN_ROWS, counts_words, rows_table, selected_rows

    with task(request, "Reading the selection") as (session, _):
        result = _map(session)
        rows = selected_rows(result, selection or "")
        words = counts_words(result, rows)
        if len(rows) > SHOWN_ROWS:
            words += f" The table shows the first {SHOWN_ROWS:,}; the download holds all."
        return words, _rows_update(rows_table(result, rows, limit=SHOWN_ROWS))


@user_errors
def download_selection(selection: str, file_format: str = "csv", request: gr.Request = None) -> str:
    """The selected rows as a CSV or Excel file."""
    from ..search import rows_table, selected_rows
    from ..writers import write_table

    with task(request, "Writing the selected rows") as (session, _):
        result = _map(session)
        rows = selected_rows(result, selection or "")
        if not len(rows):
            raise UserError("Select rows on the map first (a box or a lasso around them).")
        suffix = ".xlsx" if file_format == "xlsx" else ".csv"
        return str(write_table(rows_table(result, rows), session.new_file(f"selected_rows{suffix}")))


@user_errors
def relabel_selection(selection: str, label: str, request: gr.Request = None):
    """ "Relabel these": the selected rows get ``label`` in the loaded file and the checked data (the corrections
    path of the suspected label errors), so that the next Train learns from them; the corrected file to download."""
    from ..corrections import corrected_dataset, corrected_table
    from ..search import relabel_decisions, selected_rows
    from ..writers import write_table

    if len(label or "") > MAX_LABEL_CHARS:
        raise UserError(f"A label has at most {MAX_LABEL_CHARS} characters.")
    with task(request, "Relabelling") as (session, _):
        result = _map(session)
        if session.table is None or session.map_table is not session.table:
            raise UserError(
                "This map is not of the file loaded now (it shows the sample, or the file changed since): load your "
                "file in the Data tab, draw the map again, then select and relabel."
            )
        column = session.dataset.columns.label if session.dataset is not None else result.data.label
        if not column:
            raise UserError("Your file has no label column to change: choose one in the Data tab (Check data).")
        rows = selected_rows(result, selection or "")
        decisions = relabel_decisions(result, rows, label)
        separator = session.dataset.config.label_separator if session.dataset is not None else None
        if separator and session.dataset.label_sets is not None:  # a row's whole set of labels
            labels = tuple(sorted({p.strip() for p in label.split(separator) if p.strip()}))
            if not labels:
                raise UserError(
                    f"{label.strip()!r} holds only separators: type the rows' labels, separated by {separator!r}."
                )
            decisions = dict.fromkeys(decisions, labels)
        outside = []  # rows the checked data left out (an empty label, say): they change in the file only
        if session.dataset is not None:
            checked = set(session.dataset.rows)
            outside = [r for r in decisions if r not in checked]
        table = corrected_table(session.table, column, decisions, separator)
        if session.dataset is not None:
            session.dataset = corrected_dataset(session.dataset, decisions)
        session.correct_table(table)
        session.map_table = table  # the map's rows are still the file's: relabelling removes none
        if column in result.data.columns:  # the map's hover and colours show the new labels too
            new = next(iter(decisions.values()))
            shown = ", ".join(new) if isinstance(new, tuple) else new
            for i in rows:
                result.data.columns[column][i] = shown
        name = f"{Path(session.table_name or 'data').stem[:60]}_relabelled.csv"
        file = write_table(table, session.new_file(name))
        shown_label = html.escape(repr(views.cell(" ".join(label.split()), 60)), quote=False)
        words = (
            f"**{len(rows):,} row{'s' * (len(rows) != 1)} now labelled {shown_label}** in your data. Press **Train** "
            "(Train tab) to train again on the corrected data; the corrected file is below."
        )
        if outside:
            words += (
                f" {len(outside)} of them (file row{'s' * (len(outside) != 1)} {', '.join(map(str, outside[:10]))}) "
                "were left out when the data was checked: they change in the file, and join training once you press "
                "**Check data** (Data tab) again."
            )
        return words, str(file), views.map_figure(result)


@user_errors
def share_map(request: gr.Request = None) -> str:
    """The map as one page that works offline (search by words, hover, legend, clusters)."""
    with task(request, "Writing the map's page") as (session, _):
        return str(views.write_map_html(_map(session), session.new_file("map.html")))


@user_errors
def atlas_file(request: gr.Request = None) -> str:
    """The map's rows with coordinates (and clusters) as Parquet, what Embedding Atlas opens."""
    from ..maps import write_coords

    with task(request, "Writing the Parquet file") as (session, _):
        result = _map(session)
        if result.projection.coords.shape[1] != 2:
            raise UserError("Embedding Atlas shows 2D maps: draw the map with 2 dimensions, then download.")
        path = session.new_file("map.parquet")
        write_coords(result, path)
        return str(path)
