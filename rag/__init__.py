"""Clinic Q&A assistant: answers patients' questions from the clinic's articles only.

Every answer is grounded: each sentence cites and quotes the article text it rests on.
"""
