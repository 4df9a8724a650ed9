// The refusal reason is asked for only when the chosen stage is a lost one; the
// server refuses a lost stage without a reason whether or not this script runs.
(function () {
  "use strict";
  var form = document.querySelector("form.deal-move");
  if (!form) return;
  var stage = form.querySelector("select[name=stage_id]");
  var choice = form.querySelector(".deal-reason-choice");
  function lostChosen() {
    var option = stage.options[stage.selectedIndex];
    return Boolean(option) && option.dataset.lost === "yes";
  }
  function update() {
    choice.hidden = !lostChosen();
  }
  stage.addEventListener("change", update);
  update();
})();
