"""The pages over the audit trail: the audit log, its CSV and API, and the director's review of emergency access.

Above the patients app (it finds patients by name); the audit app beneath it only records.
"""
