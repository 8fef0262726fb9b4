"""UiThread: what workers post runs on the owner thread, in order, and each drain needs one wake-up."""

import threading

import pytest

from vcam_lipstick.ui_thread import UiThread


def from_worker(fn):
    t = threading.Thread(target=fn, name="worker")
    t.start()
    t.join()


def test_posts_from_workers_run_on_the_owner_in_order_after_one_wake():
    ui = UiThread(threading.current_thread())
    wakes, ran = [], []
    ui.set_waker(lambda: wakes.append(threading.current_thread().name))
    from_worker(lambda: [ui.post(lambda i=i: ran.append((i, threading.current_thread()))) for i in range(5)])
    assert ran == []  # nothing runs on the worker
    assert wakes == ["worker"]  # five posts, one wake-up until the owner drains
    ui.drain()
    assert [i for i, _ in ran] == [0, 1, 2, 3, 4]
    assert all(thread is threading.current_thread() for _, thread in ran)
    from_worker(lambda: ui.post(lambda: ran.append((5, None))))
    assert wakes == ["worker", "worker"]  # drained: the next post wakes the owner again


def test_only_the_owner_drains():
    ui = UiThread(threading.current_thread())
    errors = []

    def drain():
        try:
            ui.drain()
        except RuntimeError as exc:
            errors.append(str(exc))

    from_worker(drain)
    assert errors and "not the UI thread" in errors[0]


def test_a_loop_not_running_yet_is_woken_by_the_next_post():
    ui = UiThread(threading.current_thread())
    running, wakes = False, []

    def wake():
        wakes.append(running)
        return running  # False: the toolkit's loop cannot be reached yet

    ui.set_waker(wake)
    from_worker(lambda: ui.post(lambda: None))
    running = True
    from_worker(lambda: ui.post(lambda: None))
    assert wakes == [False, True]


def test_a_failing_update_does_not_stop_the_others(caplog):
    ui = UiThread(threading.current_thread())
    ran = []
    ui.post(lambda: 1 / 0)
    ui.post(lambda: ran.append("menu"))
    ui.drain()
    assert ran == ["menu"] and "UI update failed" in caplog.text


def test_after_the_loop_ends_posts_are_dropped():
    ui = UiThread(threading.current_thread())
    wakes, ran = [], []
    ui.set_waker(lambda: wakes.append(1))
    ui.close()
    from_worker(lambda: ui.post(lambda: ran.append(1)))
    ui.drain()
    assert ran == [] and wakes == []


@pytest.mark.parametrize("on_owner", [True, False])
def test_call_runs_at_once_only_on_the_owner(on_owner):
    ui = UiThread(threading.current_thread())
    ran = []
    if on_owner:
        ui.call(lambda: ran.append(1))
        assert ran == [1]
    else:
        from_worker(lambda: ui.call(lambda: ran.append(1)))
        assert ran == []
        ui.drain()
        assert ran == [1]
