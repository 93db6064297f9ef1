"""Reviewers' decisions: kept (store.py), applied to a run (apply.py), measured against the machine
(agreement.py), read back from the workbook (workbook.py), made in the local review app (app.py), and
turned into training and evaluation passages (passages.py).
"""
