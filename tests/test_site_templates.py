"""The test sites' PostgreSQL databases are dropped in background batches; a batch that fails
is reported when the session ends, not lost in its thread."""

import pytest
import sqlalchemy as sa

from jomreskit.testing import SiteTemplates

NOWHERE = "postgresql://postgres@127.0.0.1:1/test"  # nothing listens on port 1


def test_a_batch_of_drops_that_failed_is_raised_at_the_end(tmp_path):
    templates = SiteTemplates(tmp_path)
    templates.DROP_TOGETHER = 1  # each finished test's database is a batch of its own
    url = templates.new_database(NOWHERE)
    templates.uncreated.clear()  # as if its test had built a site on it

    templates.finished(url)  # the drop runs, and fails, in the background

    with pytest.raises(sa.exc.OperationalError):
        templates.drop()
