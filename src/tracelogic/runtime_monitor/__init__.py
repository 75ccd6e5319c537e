"""runtime_monitor"""
