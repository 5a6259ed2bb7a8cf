"""The reports client over real loopback HTTP against the sandbox: paging, windows, caps and
every endpoint compared with the sandbox's truth."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from dingsync.dingtalk import DingTalkError
from dingsync.dingtalk.reports import WINDOW_MS, split_windows
from dingsync.sandbox import SandboxServer
from dingsync.sandbox.reports import ReportsArea
from helpers.reports import SANDBOX as SANDBOX
from helpers.reports import make_client, window

DAY_MS = 86_400_000


def area(sb: SandboxServer) -> ReportsArea:
    found: ReportsArea = sb.state.areas["reports"]
    return found


async def test_every_report_exactly_once_and_summing_cursors_would_skip(
    sandbox: SandboxServer,
) -> None:
    start, end = window(sandbox)
    truth = {r.report_id for r in area(sandbox).world.reports}
    # Enough pages for a summing cursor to skip one (20, then 20 + 40 = 60 skips 40–59); the
    # count itself depends on the weekdays of the sandbox's window (it ends today).
    assert len(truth) > 60
    async with make_client(sandbox) as client:
        got = [r.report_id async for r in client.reports.iter_reports(start, end)]
        assert len(got) == len(set(got)) == len(truth)
        assert set(got) == truth
        assert client.calls["/topapi/report/list"] == math.ceil(len(truth) / 20)

        # A client that adds next_cursor to its cursor (or treats it as an offset) loses reports.
        naive: list[str] = []
        cursor = 0
        while True:
            body = await client.oapi(
                "POST",
                "/topapi/report/list",
                json={"start_time": start, "end_time": end, "cursor": cursor, "size": 20},
            )
            result = body["result"]
            naive.extend(r["report_id"] for r in result["data_list"])
            assert "next_cursor" in result  # present on every page, the last one too (EB-37)
            if not result["has_more"]:
                break
            cursor += result["next_cursor"]
        assert len(naive) < len(truth)


async def test_200_day_range_is_two_windows_equal_to_the_sandbox(sandbox: SandboxServer) -> None:
    _, end = window(sandbox)
    since = end - 200 * DAY_MS
    windows = split_windows(since, end)
    assert len(windows) == 2
    assert windows[0] == (since, since + WINDOW_MS)
    assert windows[1] == (since + WINDOW_MS + 1, end)
    truth = {r.report_id for r in area(sandbox).world.reports}
    async with make_client(sandbox) as client:
        got = [r.report_id async for r in client.reports.iter_reports(since, end)]
        # the older window holds no report: one empty page, then the newer window's pages
        assert client.calls["/topapi/report/list"] == 1 + math.ceil(len(truth) / 20)
    assert sorted(got) == sorted(truth)


async def test_caps_are_enforced_by_the_sandbox(sandbox: SandboxServer) -> None:
    start, end = window(sandbox)
    async with make_client(sandbox, max_retries=0) as client:
        for body in (
            {"start_time": end - 181 * DAY_MS, "end_time": end, "cursor": 0, "size": 20},
            {"start_time": start, "end_time": end, "cursor": 0, "size": 21},
            {"start_time": start, "end_time": end, "cursor": 5, "size": 20},
        ):
            with pytest.raises(DingTalkError) as info:
                await client.oapi("POST", "/topapi/report/list", json=body)
            assert info.value.errcode == 400002


async def test_report_fields_and_per_report_lists_match_the_sandbox(
    sandbox: SandboxServer,
) -> None:
    start, end = window(sandbox)
    world = area(sandbox).world
    with_comments = [r for r in world.reports if r.comments][:3]
    with_likes = [r for r in world.reports if r.likers][:3]
    assert with_comments and with_likes
    async with make_client(sandbox) as client:
        got = {r.report_id: r async for r in client.reports.iter_reports(start, end)}
        for truth in world.reports[:50]:
            r = got[truth.report_id]
            assert r.template_name == truth.template
            assert r.creator_id == truth.creator_id
            assert r.create_time == truth.create_time
            assert r.modified_time == truth.modified_time
            assert [c.model_dump(include={"key", "sort", "type", "value"}) for c in r.contents] == (
                truth.contents
            )
            assert await client.reports.list_receivers(r.report_id) == truth.receivers
        for truth in with_comments:
            comments = await client.reports.list_comments(truth.report_id)
            assert [(c.userid, c.content) for c in comments] == [
                (c.userid, c.content) for c in truth.comments
            ]
            assert [int(c.created_at.timestamp()) for c in comments if c.created_at] == [
                c.create_time // 1000 for c in truth.comments
            ]
        for truth in with_likes:
            rid = truth.report_id
            assert await client.reports.list_statistics_users(rid, 0) == truth.readers
            assert await client.reports.list_statistics_users(rid, 2) == truth.likers
            stats = await client.reports.get_statistics(rid)
            assert (stats.read_num, stats.like_num) == (len(truth.readers), len(truth.likers))


async def test_templates_and_unread_count(sandbox: SandboxServer) -> None:
    world = area(sandbox).world
    writer = world.writers["销售日报"][0]
    async with make_client(sandbox) as client:
        listed = await client.reports.iter_templates(size=3).to_list()
        assert [t.name for t in listed] == list(world.templates)
        assert client.calls["/topapi/report/template/listbyuserid"] == 2
        tpl = await client.reports.get_template("销售日报", writer)
        assert tpl.id == world.templates["销售日报"].report_code
        assert [f.field_name for f in tpl.fields] == [
            f.field_name for f in world.templates["销售日报"].fields
        ]
        assert [f.sort for f in tpl.fields] == list(range(len(tpl.fields)))
        count = await client.reports.get_unread_count(writer)
        assert isinstance(count, int) and count >= 0


async def test_images_knob_serves_json_text_images(sandbox: SandboxServer) -> None:
    start, end = window(sandbox)
    with_images = {r.report_id: r for r in area(sandbox).world.reports if r.images}
    assert with_images
    async with make_client(sandbox) as client:
        plain = [r async for r in client.reports.iter_reports(start, end)]
        assert not any(r.images for r in plain)
        sandbox.configure(report_images=True)
        try:
            rich = [r async for r in client.reports.iter_reports(start, end)]
        finally:
            sandbox.configure(report_images=False)
    seen = {r.report_id: r for r in rich if r.images}
    assert set(seen) == set(with_images)
    for rid, r in seen.items():
        urls = r.image_urls()
        assert urls and all(u.startswith("https://") for u in urls)
        assert len(urls) == len(with_images[rid].images)


def test_mutation_route_edits_a_report() -> None:
    from dingsync.sandbox import SandboxConfig

    with SandboxServer(SandboxConfig(seed=3, users=8, days=5, qps_limit=None)) as sb:
        rid = area(sb).world.reports[0].report_id
        before = area(sb).world.by_id[rid].modified_time
        answer: dict[str, Any] = httpx.post(
            f"{sb.base_url}/sandbox/mutate/reports/edit", json={"report_id": rid, "value": "新内容"}
        ).json()
        assert answer["report_id"] == rid
        assert answer["contents"][0]["value"] == "新内容"
        assert answer["modified_time"] > before
        missing = httpx.post(f"{sb.base_url}/sandbox/mutate/reports/edit", json={"report_id": "x"})
        assert missing.status_code == 404


async def test_statistics_rules_submit_statistics_and_detail(sandbox: SandboxServer) -> None:
    """The v1.0 report APIs (reports.md §11): a template's 统计规则 (typed), its submission
    statistics (who must submit, status per person per day) and a report's whole text; an
    unknown rule is a 4xx ``DingTalkError``."""
    world = area(sandbox).world
    rule = world.rules["日报"]
    template_id = world.templates["日报"].report_code
    admin = sandbox.state.company.main_admin_userid
    start, end = window(sandbox)
    async with make_client(sandbox) as client:
        rules = await client.reports.iter_stat_rules(template_id, admin).to_list()
        assert [r.remind_id for r in rules] == [rule.remind_id]
        assert rules[0].period_type == 1 and rules[0].template_id == template_id
        assert rules[0].start_date_time == list(rule.starts)
        assert rules[0].end_date_time == list(rule.ends)
        none = client.reports.iter_stat_rules(world.templates["周报"].report_code, admin)
        assert await none.to_list() == []

        stats = await client.reports.get_submit_statistics(
            template_id, rule.remind_id, start, end, admin
        )
        assert stats.template_name == "日报"
        assert sorted(stats.user_ids) == sorted(rule.userids)
        assert (
            stats.statuses() == area(sandbox).rule_statistics(rule, start, end)["userIdStatusMap"]
        )
        assert set(stats.user_map) == set(rule.userids)
        with pytest.raises(DingTalkError):
            await client.reports.get_submit_statistics(
                template_id, rule.remind_id + 1, start, end, admin
            )

        cut = next(r for r in world.reports if r.full_texts)
        detail = await client.reports.get_detail(cut.report_id)
        whole = {c.key: c.value for c in detail.content}
        for key, text in cut.full_texts.items():
            assert whole[key] == text and len(text) > 1000
        listed = [r async for r in client.reports.iter_reports(cut.create_time, cut.create_time)]
        short = {c.key: c.value for c in listed[0].contents}
        assert all(len(short[k] or "") == 1000 for k in cut.full_texts)
