"""The approvals client over real loopback HTTP against the sandbox (both hosts)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from dingsync.dingtalk import InvalidArgumentError, NotFoundError
from dingsync.dingtalk.approvals import PATH_GET_V1, PATH_IDS_OLD, PATH_IDS_V1
from dingsync.sandbox import SandboxServer
from helpers.approvals import SANDBOX as SANDBOX
from helpers.approvals import make_client, make_sandbox


def _all_ids(sb: SandboxServer) -> dict[str, set[str]]:
    world = sb.state.areas["approvals"].world
    out: dict[str, set[str]] = {}
    for inst in world.instances.values():
        out.setdefault(inst.process_code, set()).add(inst.process_instance_id)
    return out


async def test_templates_and_schemas(sandbox: SandboxServer) -> None:
    world = sandbox.state.areas["approvals"].world
    async with make_client(sandbox) as client:
        templates = await client.approvals.list_templates()
        schema = await client.approvals.get_form_schema(world.templates[1].process_code)
        with pytest.raises(InvalidArgumentError):
            await client.approvals.get_form_schema("PROC-NOPE")
    assert [t.name for t in templates] == ["请假", "报销", "出差", "采购", "加班"]
    labels = [c.label for c in schema.items]
    assert labels == ["报销总额（元）", "报销明细", None, "票据照片", "附件"]
    assert [c.label for c in schema.items[1].children] == ["费用类型", "金额（元）", "日期"]


@pytest.mark.parametrize("endpoint", ["v1.0", "legacy"])
async def test_300_day_range_is_3_windows_and_every_id_once(
    sandbox: SandboxServer, endpoint: str
) -> None:
    truth = _all_ids(sandbox)
    now = datetime.now(UTC)
    async with make_client(sandbox) as client:
        client.approvals.instances_endpoint = endpoint  # type: ignore[assignment]
        got: dict[str, list[str]] = {}
        windows: Counter[str] = Counter()
        for code in truth:
            async for _window, ids in client.approvals.iter_instance_ids(
                code, now - timedelta(days=300), now
            ):
                windows[code] += 1
                got.setdefault(code, []).extend(ids)
        path = PATH_IDS_V1 if endpoint == "v1.0" else PATH_IDS_OLD
        pages = client.calls[path]
    assert set(windows.values()) == {3}
    for code, ids in truth.items():
        assert len(got[code]) == len(set(got[code])) == len(ids), code
        assert set(got[code]) == ids
    # nextToken/cursor paging: 20 per page, one extra call per window with nothing in it.
    expected = sum(max(1, -(-len(ids) // 20)) for ids in truth.values()) + 2 * len(truth)
    assert pages == expected


async def test_window_cap_is_split_and_statuses_filter() -> None:
    with make_sandbox(approvals_ids_per_loop=15) as sb:
        truth = _all_ids(sb)
        code = max(truth, key=lambda c: len(truth[c]))
        now = datetime.now(UTC)
        async with make_client(sb) as client:
            client.approvals.ids_per_loop = 15
            ids = await client.approvals.list_instance_ids(code, now - timedelta(days=40), now)
            running = await client.approvals.list_instance_ids(
                code, now - timedelta(days=40), now, statuses=["RUNNING"]
            )
    assert len(truth[code]) > 15
    assert sorted(ids) == sorted(truth[code])
    world = sb.state.areas["approvals"].world
    assert sorted(running) == sorted(
        i for i in truth[code] if world.instances[i].status == "RUNNING"
    )


async def test_windows_refused_like_dingtalk(sandbox: SandboxServer) -> None:
    code = sandbox.state.areas["approvals"].world.templates[0].process_code
    now = datetime.now(UTC)
    async with make_client(sandbox) as client:
        for endpoint in ("v1.0", "legacy"):
            client.approvals.instances_endpoint = endpoint  # type: ignore[assignment]
            with pytest.raises(InvalidArgumentError):  # 121 days in one call
                await client.approvals.list_window_ids(code, now - timedelta(days=121), now)
            with pytest.raises(InvalidArgumentError):  # start older than 365 days
                await client.approvals.list_window_ids(
                    code, now - timedelta(days=400), now - timedelta(days=390)
                )
        # The splitting API never sends such windows: an old start is moved up to 365 days.
        windows = client.approvals.windows(now - timedelta(days=500), now, now=now)
    assert len(windows) == 4
    assert windows[0][0] >= now - timedelta(days=365)


async def test_same_instance_from_both_hosts(sandbox: SandboxServer) -> None:
    world = sandbox.state.areas["approvals"].world
    inst = next(i for i in world.instances.values() if i.status == "COMPLETED")
    async with make_client(sandbox) as client:
        new = await client.approvals.get_instance(inst.process_instance_id)
        client.approvals.instances_endpoint = "legacy"
        old = await client.approvals.get_instance(inst.process_instance_id)
        with pytest.raises(InvalidArgumentError):  # 820005 on the old host
            await client.approvals.get_instance("no-such-id")
        client.approvals.instances_endpoint = "v1.0"
        with pytest.raises(NotFoundError):  # processInstanceNotExist on v1.0
            await client.approvals.get_instance("no-such-id")
    assert new.source == "v1.0" and old.source == "legacy"
    assert "createTime" in new.payload() and "create_time" in old.payload()
    assert old.create_at is not None and old.create_at.second  # the old host has seconds
    assert new.create_at == old.create_at.replace(second=0)  # v1.0: minutes (EB-56)
    assert old.finish_at is not None and new.finish_at == old.finish_at.replace(second=0)
    for name in ("title", "business_id", "originator_userid", "status", "result", "cc_userids"):
        assert getattr(new, name) == getattr(old, name), name
    assert [(v.id, v.name, v.value, v.ext_value) for v in new.form_component_values] == [
        (v.id, v.name, v.value, v.ext_value) for v in old.form_component_values
    ]
    assert [(t.taskid, t.task_status, t.task_result, t.finish_at) for t in new.tasks] == [
        (t.taskid, t.task_status, t.task_result, t.finish_at and t.finish_at.replace(second=0))
        for t in old.tasks
    ]


async def test_fallback_to_legacy_when_v1_is_refused() -> None:
    with make_sandbox(approvals_v1_denied=True) as sb:
        world = sb.state.areas["approvals"].world
        pid = next(iter(world.instances))
        async with make_client(sb) as client:
            templates = await client.approvals.list_templates()
            inst = await client.approvals.get_instance(pid)
            assert client.approvals.instances_endpoint == "legacy"
            assert inst.source == "legacy" and len(templates) == 5
            assert client.calls[PATH_GET_V1] == 0  # the listing's refusal switched already


async def test_attachment_grant_link_and_file() -> None:
    """授权下载审批钉盘文件 then 下载审批附件 against the sandbox: the grant answers ``true``
    (more than 10 files are split into calls of 10), the link streams the file's bytes, a
    comment's file needs ``with_comment_attachment``, DingTalk's errors arrive typed, and a link
    stops working after 15 minutes."""
    from dingsync.dingtalk import DingTalkError
    from dingsync.dingtalk.approvals import PATH_AUTHORIZE_DOWNLOAD, PATH_DOWNLOAD_URL
    from dingsync.sandbox.approvals.files import instance_files

    with make_sandbox() as sb:
        area = sb.state.areas["approvals"]
        files = [(i, f) for i in area.world.instances.values() for f in instance_files(i)]
        inst, form_file = next((i, f) for i, f in files if not f["comment"])
        pid, fid = inst.process_instance_id, form_file["file_id"]
        other, comment_file = next((i, f) for i, f in files if f["comment"])
        forms = [(f["file_id"], f["space_id"]) for _, f in files if not f["comment"]][:12]
        assert len(forms) == 12
        async with make_client(sb) as client:
            api = client.approvals
            assert await api.authorize_download(inst.originator_userid, forms) is True
            assert client.calls[PATH_AUTHORIZE_DOWNLOAD] == 2  # 10 + 2
            link = await api.get_download_url(pid, fid)
            assert (link.file_id, str(link.space_id)) == (fid, form_file["space_id"])
            assert link.download_uri and link.download_uri.startswith(sb.base_url)
            async with client.stream_get(link.download_uri) as response:
                assert response.status_code == 200
                content = b"".join([c async for c in response.aiter_bytes()])
            assert content == area.attachment_content(pid, fid)
            assert len(content) == form_file["file_size"]

            cid = comment_file["file_id"]
            with pytest.raises(InvalidArgumentError) as refused:
                await api.get_download_url(other.process_instance_id, cid)
            assert refused.value.errcode == "invalidParameter"
            got = await api.get_download_url(
                other.process_instance_id, cid, with_comment_attachment=True
            )
            assert got.download_uri
            with pytest.raises(NotFoundError) as gone:
                await api.get_download_url("no-such-instance", fid)
            assert gone.value.errcode == "processInstNotExist"
            with pytest.raises(InvalidArgumentError) as other_file:
                await api.get_download_url(pid, "123")  # not a file of this instance
            assert other_file.value.errcode == "invalidParameter"
            with pytest.raises(NotFoundError) as nobody:
                await api.authorize_download("nobody-here", [(fid, form_file["space_id"])])
            assert nobody.value.errcode == "userNotExist"
            with pytest.raises(DingTalkError) as wrong_space:
                await api.authorize_download(inst.originator_userid, [(fid, "1")])
            assert wrong_space.value.errcode == "hsfIntegrationErrorCspaceDentryServiceInfo"
            assert client.calls[PATH_DOWNLOAD_URL] == 5

            sb.clock.advance(15 * 60 + 1)  # DingTalk's links live 15 minutes
            async with client.stream_get(link.download_uri) as response:
                assert response.status_code == 403
            async with client.stream_get(link.download_uri + "0") as response:
                assert response.status_code == 403  # a tampered signature
        stats = sb.stats()["approvals"]["attachments"]
        assert stats["links"] == 2 and stats["served"] == 1 and stats["grants"] == 12
        assert stats["form"] > 0 and stats["comment"] > 0
