

def test_a_pass_that_saw_the_source_node_does_not_undo_a_finished_migration():
    from virtctl.controller.reconcile.vmi import _moved_since
    done = {"nodeName": "node02", "migrationState": {"completed": True, "targetNode": "node02",
                                                     "sourceNode": "node01"}}
    assert _moved_since(done, "node01")
    assert not _moved_since(done, "node02")
    aborted = {"nodeName": "node01", "migrationState": {"completed": False, "targetNode": "node02",
                                                        "abortStatus": "Succeeded"}}
    assert not _moved_since(aborted, "node01")
    failed = {"nodeName": "node02", "migrationState": {"completed": True, "failed": True, "targetNode": "node02"}}
    assert not _moved_since(failed, "node01")
    assert not _moved_since({"nodeName": "node01"}, "node02")
