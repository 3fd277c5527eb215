"""The demo warehouse: twelve months of a believable engineering organisation.

``cadence demo`` (and ``make run`` when no real database is configured) writes this so a new user
sees a working dashboard before connecting any source. The organisation is *Brightcart*, an online
retailer with six teams whose delivery profiles differ on purpose:

=============  ===========================================================================
platform       elite: continuous deployment, several deploys a day, lead time in hours,
               CFR ~3 %, recovery within the hour
growth         high: deploys daily behind a short approval, lead time about a day
catalog        medium, and clearly over-provisioned (search cluster idles at ~8 % CPU)
data           medium-low: batchy deploys, incidents from pipelines
checkout       improving: moves mid-year from fortnightly releases to daily deploys
fulfilment     struggling: a weekly release train, lead times of weeks, CFR ~25 %,
               recovery in days
=============  ===========================================================================

Everything is drawn from one ``numpy`` Generator seeded by ``seed``, and the twelve months end at
a fixed anchor (the Sunday before ``today``), so the same seed and ``today`` give identical rows.
Rows go through ``warehouse.upsert_rows`` like real data, into a temporary file beside the target
that replaces it atomically, so a dashboard never sees half a demo. The demo's team configuration
is stored in ``warehouse_meta`` (``demo_config``) for ``warehouse.meta.effective_config``, with the
SLOs of ``slo.py``, whose hourly SLIs go into ``sli_hours``.

Modules: ``data`` (the organisation: teams, repositories, accounts, services, cost lines; data
tables), ``common`` (the calendar and the shared draws), ``changes`` (pull requests),
``deployments`` (deployments, their links and the incidents they cause, per repository),
``delivery`` (those tables for every team, with the incidents no deployment caused), ``cloud``
(costs, utilization, commitments), ``slo`` (SLOs and hourly SLIs), ``pipelines`` (CI runs and
jobs), ``organisation`` (the stored configuration) and ``build`` (the warehouse file).
"""

from collectors.demo.build import build_demo, demo_tables
from collectors.demo.common import Calendar, anchor_end
from collectors.demo.data import ORG, SOURCE, TEAMS, WEEKS
from collectors.demo.organisation import demo_config

__all__ = ["ORG", "SOURCE", "TEAMS", "WEEKS", "Calendar", "anchor_end", "build_demo", "demo_config", "demo_tables"]
