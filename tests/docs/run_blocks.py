"""Run a documentation page's Python blocks in order, in one namespace, like a reader pasting them.

Copied into a temporary directory and started there by ``test_docs_examples.py``:
``python run_blocks.py blocks.json``. Each block is compiled with top-level ``await`` allowed; a
block that awaits runs on the page's event loop, any other block is simply executed (so one that
calls ``asyncio.run()`` works). A block that names its file (``"file"`` in the spec) is also written
there first, so later blocks can import it. Prints ``FAILED <where>`` and the traceback on the first
failure.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import os
import sys
import traceback
import types


def main(spec_path: str) -> int:
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    main_module = types.ModuleType("__main__")
    main_module.__file__ = spec["file"]
    sys.modules["__main__"] = main_module  # jobs defined by the blocks are __main__.<name>, as in a script
    namespace = main_module.__dict__
    loop = asyncio.new_event_loop()
    try:
        for block in spec["blocks"]:
            try:
                if block.get("file"):
                    os.makedirs(os.path.dirname(block["file"]) or ".", exist_ok=True)
                    with open(block["file"], "w", encoding="utf-8") as handle:
                        handle.write(block["code"])
                code = compile(block["code"], block["where"], "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
                result = eval(code, namespace)
                if inspect.iscoroutine(result):
                    loop.run_until_complete(result)
            except BaseException:
                print(f"FAILED {block['where']}", file=sys.stderr)
                traceback.print_exc()
                return 1
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
