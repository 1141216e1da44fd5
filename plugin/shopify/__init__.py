"""Relais and Shopify: tokens (exchange, refresh, encrypted storage), the Admin GraphQL
client, and the jobs that import and reconcile orders through it.

:mod:`plugin.shopify.connection` builds the pieces once per app; the rest of Relais reaches
them with :func:`plugin.shopify.connection.shopify_connection`.
"""
