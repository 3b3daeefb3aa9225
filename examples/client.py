"""Print genrescope's live genre estimates: python examples/client.py [WS_URL]"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect


async def main(url: str) -> None:
    async with connect(url) as websocket:
        async for text in websocket:
            message = json.loads(text)
            if message["type"] == "hello":
                print(f"{message['source']}: {', '.join(message['labels'])}")
            elif message["type"] == "update":
                print(f"{message['time']:7.2f} s  {message['top']:<14} {max(message['probabilities'].values()):.0%}")
            elif message["type"] == "end":
                print(message["summary"])
                break


asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8765/ws"))
