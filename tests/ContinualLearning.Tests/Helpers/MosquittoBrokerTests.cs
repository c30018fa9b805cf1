using System.Net.Sockets;

namespace ContinualLearning.Tests.Helpers;

public class MosquittoBrokerTests
{
    [MosquittoFact]
    public async Task Broker_accepts_connections_and_comes_back_after_restart()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using (var c = new TcpClient()) await c.ConnectAsync(broker.Host, broker.Port);
        await broker.StopAsync();
        await Assert.ThrowsAnyAsync<SocketException>(async () =>
        {
            using var c = new TcpClient();
            await c.ConnectAsync(broker.Host, broker.Port);
        });
        await broker.RestartAsync();
        using (var c = new TcpClient()) await c.ConnectAsync(broker.Host, broker.Port);
        Assert.Contains("New connection from 127.0.0.1", broker.ReadLog(), StringComparison.Ordinal);
    }
}
