pytest_plugins = ["jomreskit.testing"]
