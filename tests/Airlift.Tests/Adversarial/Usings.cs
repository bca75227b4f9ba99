// The adversarial tables name drop counters with the same enum as the bad-input tests.
global using Counter = Airlift.Tests.Dtls.BadInput.Counter;
