// Starts GraphiQL against this server: queries and mutations over HTTP (POST /graphql),
// subscriptions over graphql-transport-ws on the same path. A token typed into the
// Headers tab ({"Authorization": "Bearer <jwt>"}) is sent with both.
(function () {
  "use strict";
  var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({
    url: window.location.origin + "/graphql",
    subscriptionUrl: scheme + "//" + window.location.host + "/graphql",
  });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
    })
  );
})();
