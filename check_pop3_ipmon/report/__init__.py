"""pop3_ipmon_report: ipMonitor's "Store Monitor Statistics" from the engines' perfdata.

perfdata.py reads one line, ingest.py files into store.py's SQLite database;
availability.py and percentiles.py compute, model.py gathers a report that
html.py (with svg.py), and export.py (JSON, CSV) lay out; cli.py is the
console script; engine_settings.py writes the engine settings that feed it;
safefile.py opens and writes files safely as root; spool.py is Nagios'
processing command, sharing its perfdata file with the site's graphing tool.
"""
