"""Six users at once through gradio_client: each uploads their own data and gets their own classifier
(half of them press Train without Check)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .conftest import write_csv

WORDS = {
    "weather": ["rain", "sun", "snow", "wind", "storm", "cloud", "fog", "heat", "frost", "thunder"],
    "food": ["bread", "cheese", "soup", "pasta", "apple", "rice", "cake", "fish", "salad", "pizza"],
}


def one_user(url: str, k: int, folder) -> list[str]:
    from gradio_client import Client, handle_file

    rows = [(f"I talked about {w} with friend {i}", f"user{k}_{topic}", "en")
            for topic, words in WORDS.items() for i, w in enumerate(words * 2)]  # fmt: skip
    path = write_csv(folder / f"user{k}.csv", ["text", "label", "language"], rows)
    client = Client(url, verbose=False)
    client.predict(handle_file(str(path)), api_name="/load_file")
    if k % 2:  # the others train straight away: Train checks the data with the detected columns
        client.predict("text", "label", "language", "(none)", api_name="/check_data")
    outputs = client.predict("embedded", "by_language", 0, api_name="/train")
    report = outputs[1]  # the per-class table
    return sorted(row[0] for row in report["data"])


def test_six_concurrent_users_each_get_their_own_classifier(app_url, tmp_path):
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda k: one_user(app_url, k, tmp_path), range(6)))
    for k, labels in enumerate(results):
        assert labels == [f"user{k}_food", f"user{k}_weather"]
