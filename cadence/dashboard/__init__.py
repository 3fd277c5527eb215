"""The dashboard's shared UI (``ui``: connection, filters, tables; ``charts``: Plotly figures),
used by app.py and pages/."""
