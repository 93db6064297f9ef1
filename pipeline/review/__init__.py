"""Reviewers' decisions: kept, applied to a run, measured against the machine, and learned from.

store.py keeps them, apply.py applies them to a run, agreement.py measures the machine against them,
workbook.py reads them back from gap_table.xlsx, app.py is the local review app, and passages.py turns
them into training and evaluation passages.
"""
