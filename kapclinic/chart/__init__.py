"""The chart: pages and documents that read a patient's whole record (chart page, banner, record export).

Top of the house: may import every stage app; no stage app imports it (pages include the banner through
its template tag, `{% load patient_tags %}`).
"""
