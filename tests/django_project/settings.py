"""Settings of the test project: promptsync's app and nothing else. promptsync reads its own
configuration (LOCAL_DB_*, STAGING_*, PROD_*) from the environment, not from DATABASES."""

SECRET_KEY = "test-project-only"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["promptsync.django"]
DATABASES: dict = {}
