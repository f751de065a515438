"""The domain: exact money, products, books, orders, fills and intents. Imports nothing of ours."""
