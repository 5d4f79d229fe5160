#!/usr/bin/env python3
"""Every property an element of the plugin defines is documented in its page's property table
(docs/elements/ELEMENT.md: rows whose first cell holds the property names in backticks), and every
property documented there exists. Inherited properties (name, parent, GstBaseTransform's qos) are
documented by GStreamer. Usage: check_property_docs.py PLUGIN_DIR DOCS_DIR ELEMENT..."""
import os
import re
import sys

plugin_dir, docs_dir, elements = sys.argv[1], sys.argv[2], sys.argv[3:]
os.environ["GST_PLUGIN_PATH"] = plugin_dir
os.environ.setdefault("GST_REGISTRY", os.path.join(plugin_dir, "docs-check-registry.bin"))
import gi  # noqa: E402

gi.require_version("Gst", "1.0")
from gi.repository import GObject, Gst  # noqa: E402

Gst.init(None)
failures = 0
for name in elements:
    element = Gst.ElementFactory.make(name, None)
    if element is None:
        print(f"{name}: the element cannot be made (plugin not built in {plugin_dir}?)")
        failures += 1
        continue
    own_type = element.__gtype__
    defined = {p.name for p in GObject.list_properties(element) if p.owner_type == own_type}
    page = os.path.join(docs_dir, "elements", name + ".md")
    documented = set()
    with open(page, encoding="utf-8") as f:
        for line in f:
            cells = line.split("|")
            if line.startswith("| `") and len(cells) > 2:
                documented.update(re.findall(r"`([a-z0-9-]+)`", cells[1]))
    for missing in sorted(defined - documented):
        print(f"{name}: property '{missing}' is not documented in {page}")
        failures += 1
    for extra in sorted(documented - defined):
        print(f"{name}: {page} documents '{extra}', which the element does not have")
        failures += 1
    print(f"{name}: {len(defined)} properties, {len(documented & defined)} documented")
sys.exit(1 if failures else 0)
